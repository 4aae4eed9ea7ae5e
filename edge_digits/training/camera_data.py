"""Training digits as the camera sees them: MNIST training digits laid out on photo-like pages
(edge_digits.synth), found and cut out by the camera pipeline (edge_digits.vision) and normalized as the
classifier gets them. What the pipeline leaves of a digit is not what MNIST shows: a 15 px digit upscaled
from a blur, the remains of a ruled line, a stroke the threshold thinned. A model that has seen these reads
them far better (benchmarks/camera.md)."""
from __future__ import annotations

import numpy as np

from edge_digits.core.boxes import iou
from edge_digits.vision.rules import boxfit
from edge_digits.vision.rules import detect
from edge_digits.data import synth
from edge_digits.vision import pipeline as vision


NOT_A_DIGIT = 10  # the label of a crop that is no whole digit: train asks the model for no opinion on it


def camera_crops(x: np.ndarray, y: np.ndarray, pages: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 crops and their labels: every candidate the detector offers on `pages` pages
    built from x, y, normalized exactly as the camera does. The candidate that fits a true digit best
    (IoU >= 0.5) gets its label; every one far from all digits (IoU < 0.4: a piece of a digit, two
    neighbours taken together, a speck, what is left of a line) gets NOT_A_DIGIT."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(pages):
        p = synth.make_page(x, y, rng)
        det = detect.find_digits(p.image, pieces=True)
        truth = np.concatenate([p.boxes, p.ignore])  # the ignored digits, cut by the frame edge, come last
        ious = np.array([[iou(b, t) for t in truth] for b in det.boxes]).reshape(len(det.boxes), len(truth))
        # each true digit once, from the candidate that fits it best (the last of equals), as the camera reads it
        for i, label in enumerate(p.labels):
            if len(det.boxes) and ious[:, i].max() >= 0.5:
                xs.append(vision.normalize_crop(det.crops[len(det.boxes) - 1 - int(ious[::-1, i].argmax())]))
                ys.append(label)
        for j in np.flatnonzero(ious.max(1, initial=0.0) < 0.4):
            xs.append(vision.normalize_crop(det.crops[j]))
            ys.append(NOT_A_DIGIT)
    return np.array(xs, np.uint8).reshape(-1, vision.CANVAS, vision.CANVAS), np.array(ys, np.uint8)


def box_windows(x: np.ndarray, y: np.ndarray, pages: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training data of the box-fit net (edge_digits.boxfit): for every candidate the detector offers on
    `pages` pages built from x, y (pieces of merged groups too: what the net must learn to grow) that
    overlaps a true digit at IoU >= 0.2, its window, the true box in window units (x0, y0, x1, y1) and
    the candidate's IoU with it. Returns (N, 28, 28) uint8, (N, 4) float32, (N,) float32."""
    rng = np.random.default_rng(seed)
    xs, ts, ious = [], [], []
    for _ in range(pages):
        p = synth.make_page(x, y, rng)
        det = detect.find_digits(p.image, pieces=True)
        if not len(p.boxes):
            continue
        for b, wb, crop in zip(det.boxes, det.work, det.crops):
            v = [iou(b, t) for t in p.boxes]
            j = int(np.argmax(v))
            if v[j] < 0.2:
                continue
            win, (x0, y0, s) = boxfit.window(det.darker, det.paper, wb, crop)
            t = p.boxes[j] / det.scale
            xs.append(win)
            ts.append([(t[0] - x0) / s, (t[1] - y0) / s, (t[0] + t[2] - x0) / s, (t[1] + t[3] - y0) / s])
            ious.append(v[j])
    return (np.array(xs, np.uint8).reshape(-1, boxfit.SIZE, boxfit.SIZE), np.array(ts, np.float32).reshape(-1, 4),
            np.array(ious, np.float32))
