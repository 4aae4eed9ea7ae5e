"""Find, normalize and read handwritten digits in a camera frame. Pure functions: no camera, no window.

    result = read_frame(frame_bgr, runner)          # runner from edge_digits.runtimes.load()
    result.digits -> [Digit(box=(x, y, w, h), label=7, confidence=0.998)], result.readings -> ["2026"]

The pipeline: the digit candidates of the frame (edge_digits.detect), each redrawn the way MNIST was made,
all classified in one batch, and the model's confidence deciding between candidates that overlap.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from edge_digits.config import MIN_CONFIDENCE
from edge_digits.core.boxes import union
from edge_digits.vision.accept import features
from edge_digits.vision.crops import classifier_batch, classify_views
from edge_digits.vision.detector import dedupe
from edge_digits.vision.normalize import CANVAS, normalize_crop  # noqa: F401 - part of this module's API
from edge_digits.vision.numbers import group_numbers, group_readings  # noqa: F401
from edge_digits.vision.results import Digit, FrameResult, Number  # noqa: F401
from edge_digits.vision.rules.blobs import choose
from edge_digits.vision.rules.boxfit import drop_nested, fit as fit_boxes
from edge_digits.vision.rules.detect import Detections, find_digits  # noqa: F401


def read_frame(frame: np.ndarray, runner, min_confidence: float | None = None, debug: bool = False,
               boxfit=None, detector=None) -> FrameResult:
    """Detect, normalize and classify every digit of a frame, with one runner.predict call for all.

    With a detector (vision.detector.LearnedDetector, the default of camera and predict) the learned net
    finds the digits and links those of one number; without, the rules detector (vision.rules) does, and
    numbers come from the gap rule. With a boxfit runner (rules only: the box-fit net) each digit's box
    is then grown to the whole digit, in one more call, and a digit that turns out to be a piece of
    another is dropped."""
    if detector is not None:
        return read_learned(frame, runner, detector, min_confidence, debug)
    if min_confidence is None:
        min_confidence = MIN_CONFIDENCE
    t0 = time.perf_counter()
    det = find_digits(frame)
    t1 = time.perf_counter()
    batch = np.stack([normalize_crop(c) for c in det.crops]) if det.crops else np.zeros((0, CANVAS, CANVAS), np.uint8)
    t2 = time.perf_counter()
    digits, probs, rejected = [], None, 0
    if len(batch):
        probs = runner.predict(batch)
        labels, conf = probs.argmax(1), probs.max(1)
        keep = choose(conf, det, min_confidence)
        joined = {j[0] for j in det.joins}
        rejected = sum(1 for i in range(len(conf)) if i not in joined and conf[i] < min_confidence)
        idx = np.flatnonzero(keep)
        digits = [Digit(det.boxes[i], int(labels[i]), float(conf[i]), probs=probs[i]) for i in idx]
    t3 = time.perf_counter()
    ms = {"detect": (t1 - t0) * 1e3, "normalize": (t2 - t1) * 1e3, "classify": (t3 - t2) * 1e3}
    if boxfit is not None:
        if digits:
            for d, b in zip(digits, fit_boxes(det, idx, boxfit)):
                d.box = b
            digits = [digits[i] for i in drop_nested([d.box for d in digits])]
        ms["fit"] = (time.perf_counter() - t3) * 1e3
    return FrameResult(digits, group_numbers(digits), ms, det if debug else None, batch if debug else None,
                       rejected=rejected, probs=probs)


@dataclass
class Candidates:
    """What the learned path knows of a frame's candidates before it decides which are digits: the
    detector's record, the boxes (snapped or refined) after dedupe with their crops, the classifier's
    probabilities of each view (view_b is view_a with one view), their peak scores, the numbers over
    them, and the accept model's features (vision.accept.features)."""
    found: object
    boxes: list
    batch: np.ndarray
    view_a: np.ndarray
    view_b: np.ndarray
    peaks: np.ndarray
    groups: list[list[int]]
    features: np.ndarray
    ms: dict


def learned_candidates(grey: np.ndarray, runner, detector, debug: bool = False) -> Candidates:
    """The learned path up to its decision, one runner.predict call for every view of every candidate:
    read_learned decides on these, training.accept fits that decision on them."""
    t0 = time.perf_counter()
    found = detector.find(grey, keep_maps=debug)
    t1 = time.perf_counter()
    # a box the refiner placed (vision.refine: learned) is kept as it is and its crop holds the ink inside
    # it (dev pages: recall 76.5% snapped after refining, 77.4% not); any other is snapped to the ink
    # components in its crop; two peaks on one digit then give one box, and one is kept
    if detector.view_grow:  # and a second view of each digit for the classifier (vision.crops.VIEW_GROW)
        batch, snapped, second = classifier_batch(grey, found.boxes, in_box=found.refined, view_grow=detector.view_grow)
    else:
        (batch, snapped), second = classifier_batch(grey, found.boxes, return_boxes=True, in_box=found.refined), None
    keep, groups = dedupe(snapped, found.scores, found.numbers)
    boxes, batch = [snapped[i] for i in keep], batch[keep]
    t2 = time.perf_counter()
    view_a, view_b = classify_views(runner, batch, second[keep] if second is not None else None)
    peaks = found.scores[keep]
    X = features(peaks, view_a, view_b, boxes, found.raw[keep], grey.shape[0])
    ms = {"detect": (t1 - t0) * 1e3, "normalize": (t2 - t1) * 1e3, "classify": (time.perf_counter() - t2) * 1e3}
    return Candidates(found, boxes, batch, view_a, view_b, peaks, groups, X, ms)


def read_learned(frame: np.ndarray, runner, detector, min_confidence: float | None = None,
                 debug: bool = False) -> FrameResult:
    """The learned path: the detector's boxes and number links, each box's crop classified in one batch
    (two views of each digit, averaged: vision.crops.classify_views), and the detector's accept model
    (vision.accept) deciding which candidates are digits; without one, each the classifier reads at
    min_confidence (default config.MIN_CONFIDENCE). A given min_confidence also drops, with the accept
    model, every digit read under it. A dropped digit leaves its number too; a box the frame edge cuts is
    never reported (half a digit reads as another digit)."""
    grey = frame if frame.ndim == 2 else cv2.cvtColor(
        frame, cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    c = learned_candidates(grey, runner, detector, debug)
    t2 = time.perf_counter()
    digits, probs, new_index = [], None, {}
    if len(c.batch):
        probs = (c.view_a + c.view_b) / 2
        labels, conf = probs.argmax(1), probs.max(1)
        floor = min_confidence if min_confidence is not None else (0.0 if detector.accept is not None else MIN_CONFIDENCE)
        ok = conf >= floor
        if detector.accept is not None:
            ok &= detector.accept(c.features)
        for i in np.flatnonzero(ok):
            new_index[int(i)] = len(digits)
            x, y, w, h = c.boxes[i]
            digits.append(Digit((int(round(x)), int(round(y)), max(1, int(round(w))), max(1, int(round(h)))),
                                int(labels[i]), float(conf[i]), probs=probs[i]))
    numbers = []
    for group in c.groups:
        members = [new_index[i] for i in group if i in new_index]
        if members:
            numbers.append(Number("".join(str(digits[i].label) for i in members),
                                  union([digits[i].box for i in members]), members))
    ms = dict(c.ms, classify=c.ms["classify"] + (time.perf_counter() - t2) * 1e3)  # with the decision
    return FrameResult(digits, numbers, ms, c.found if debug else None, c.batch if debug else None,
                       rejected=len(c.batch) - len(digits), probs=probs)


def classify_mnist_image(img: np.ndarray, runner) -> FrameResult:
    """A 28x28 image is taken as an MNIST-style digit already: classified as it is (light paper inverted)."""
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    if g.mean() > 127:
        g = 255 - g
    t0 = time.perf_counter()
    p = runner.predict(np.ascontiguousarray(g, np.uint8)[None])
    ms = {"detect": 0.0, "normalize": 0.0, "classify": (time.perf_counter() - t0) * 1e3}
    d = Digit((0, 0, g.shape[1], g.shape[0]), int(p[0].argmax()), float(p[0].max()))
    return FrameResult([d], [Number(str(d.label), d.box, [0])], ms, probs=p)
