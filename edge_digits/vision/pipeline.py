"""Find, normalize and read handwritten digits in a camera frame. Pure functions: no camera, no window.

    result = read_frame(frame_bgr, runner)          # runner from edge_digits.runtimes.load()
    result.digits -> [Digit(box=(x, y, w, h), label=7, confidence=0.998)], result.readings -> ["2026"]

The pipeline: the digit candidates of the frame (edge_digits.detect), each redrawn the way MNIST was made,
all classified in one batch, and the model's confidence deciding between candidates that overlap.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge_digits.vision.rules.blobs import K3, choose
from edge_digits.vision.rules.boxfit import drop_nested, fit as fit_boxes
from edge_digits.config import MIN_CONFIDENCE
from edge_digits.vision.rules.detect import Detections, find_digits

STROKE_TARGET = 4.0  # stroke width of MNIST digits at the 40 px working scale of normalize_crop (median)
BOX, CANVAS = 20, 28  # MNIST: each digit fit into 20x20, centred by mass in 28x28


@dataclass
class Digit:
    box: tuple[int, int, int, int]  # x, y, w, h in source-frame pixels
    label: int
    confidence: float
    track: int | None = None
    probs: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        d = {"box": [int(v) for v in self.box], "label": int(self.label), "confidence": round(float(self.confidence), 4)}
        if self.track is not None:
            d["track"] = self.track
        return d


@dataclass
class FrameResult:
    digits: list[Digit]
    readings: list[str]
    ms: dict[str, float]
    detections: Detections | None = None
    normalized: np.ndarray | None = None  # (N, 28, 28) what the classifier saw, for the debug view
    rejected: int = 0  # blobs that looked unlike any digit or scored under min_confidence
    probs: np.ndarray | None = field(default=None, repr=False)


def normalize_crop(ink: np.ndarray, stroke: bool = True) -> np.ndarray:
    """One digit (ink high, any size, binary or grey) -> 28x28 uint8 the way MNIST was made: fit into
    20x20 keeping the aspect ratio, area-interpolated, centre of mass at the centre of 28x28. With
    stroke=True a thick marker and a fine pen are first brought to MNIST's stroke width."""
    x, y, w, h = cv2.boundingRect(cv2.compare(ink, 64, cv2.CMP_GT))  # a third of np.nonzero's time
    out = np.zeros((CANVAS, CANVAS), np.uint8)
    if w == 0:
        return out
    c = ink[y: y + h, x: x + w]
    h, w = c.shape
    if stroke:
        # measure and correct the stroke at twice the box size, where a 3x3 kernel changes it by a
        # quarter of MNIST's; grey levels go through the same erosion or dilation
        s = 2 * BOX / max(h, w)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        c = cv2.resize(c, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        b = cv2.compare(c, 127, cv2.CMP_GT)
        area = cv2.countNonZero(b)
        edge = area - cv2.countNonZero(cv2.erode(b, K3))
        width = 2.0 * area / max(edge, 1)
        d = int(round((width - STROKE_TARGET) / 2))
        if d:
            k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(d) + 1, 2 * abs(d) + 1))
            if d < 0:
                c = cv2.dilate(c, k)
            else:
                thinner = cv2.erode(c, k)
                if cv2.countNonZero(cv2.compare(thinner, 127, cv2.CMP_GT)) > 0.25 * area:  # never erode a digit away
                    c = thinner
        h, w = c.shape
    s = BOX / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    small = cv2.resize(c, size, interpolation=cv2.INTER_AREA)
    m = cv2.moments(small)
    if m["m00"] <= 0:
        return out
    cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
    ox, oy = int(round(CANVAS / 2 - cx)), int(round(CANVAS / 2 - cy))
    sh, sw = small.shape
    # clip: a lopsided digit's mass centre can push its far edge past the canvas, as in MNIST
    x0, y0 = max(ox, 0), max(oy, 0)
    x1, y1 = min(ox + sw, CANVAS), min(oy + sh, CANVAS)
    out[y0:y1, x0:x1] = small[y0 - oy: y1 - oy, x0 - ox: x1 - ox]
    return out


def group_readings(digits: list[Digit]) -> list[str]:
    """Digits side by side on one line, similar in height and close, read left to right as one number.
    Numbers are listed top to bottom, then left to right."""
    order = sorted(range(len(digits)), key=lambda i: digits[i].box[0])
    chains: list[list[int]] = []
    for i in order:
        x, y, w, h = digits[i].box
        best, best_gap = None, None
        for ch in chains:
            px, py, pw, ph = digits[ch[-1]].box
            gap = x - (px + pw)
            y_overlap = min(y + h, py + ph) - max(y, py)
            if (-0.3 * min(w, pw) <= gap <= 0.8 * max(h, ph) and y_overlap >= 0.5 * min(h, ph)
                    and 0.6 <= h / ph <= 1 / 0.6 and (best_gap is None or gap < best_gap)):
                best, best_gap = ch, gap
        if best is None:
            chains.append([i])
        else:
            best.append(i)
    chains.sort(key=lambda ch: (min(digits[i].box[1] for i in ch), digits[ch[0]].box[0]))
    return ["".join(str(digits[i].label) for i in ch) for ch in chains]


def read_frame(frame: np.ndarray, runner, min_confidence: float = MIN_CONFIDENCE, debug: bool = False,
               boxfit=None) -> FrameResult:
    """Detect, normalize and classify every digit of a frame, with one runner.predict call for all. With a
    boxfit runner (the box-fit net, edge_digits.boxfit) each digit's box is then grown to the whole digit,
    in one more call, and a digit that turns out to be a piece of another is dropped."""
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
    return FrameResult(digits, group_readings(digits), ms, det if debug else None, batch if debug else None,
                       rejected=rejected, probs=probs)


def classify_mnist_image(img: np.ndarray, runner) -> FrameResult:
    """A 28x28 image is taken as an MNIST-style digit already: classified as it is (light paper inverted)."""
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    if g.mean() > 127:
        g = 255 - g
    t0 = time.perf_counter()
    p = runner.predict(np.ascontiguousarray(g, np.uint8)[None])
    ms = {"detect": 0.0, "normalize": 0.0, "classify": (time.perf_counter() - t0) * 1e3}
    d = Digit((0, 0, g.shape[1], g.shape[0]), int(p[0].argmax()), float(p[0].max()))
    return FrameResult([d], [str(d.label)], ms, probs=p)
