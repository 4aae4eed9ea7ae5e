"""Refine the learned detector's boxes with a second, tiny net: the box-regression stage of two-stage
detectors (Faster R-CNN's second stage, Cascade R-CNN's repeated one), bound to our own candidates.

The detector reads sizes off 1/4-resolution maps, so a small digit's box is often off by a cell: too wide
(it takes in a neighbour), too narrow (a thin 1) or shifted, and a box under IoU 0.5 with the digit is a
miss and a false alarm at once. Here each box gets a square window GROW times its longer side around its
centre, shrunk to 28x28 and turned into ink against the window's own paper; the net (the same small CNN
as the rules path's box fit, training.models.box_fit, trained by scripts/train_refine.py on the shipped
detector's boxes and jittered true boxes of training pages) says where the digit's box is in that
window. PASSES rounds, each on the previous round's boxes (a box that moved far is seen better centred
the second time). On 500 development pages: recall 73.1% -> 77.9% and precision 80.9% -> 86.3% with two
rounds of the prototype net, against the ink-snapping rules it replaces (vision.crops' snap).

No library does this for a detector of our own, so it is written here: numpy + cv2 and one runner call a
round (runtime.load's LiteRT runner of the 28x28 int8 file).
"""
from __future__ import annotations

import cv2
import numpy as np

SIZE = 28  # the window is shrunk to SIZE x SIZE: the runners' 28x28 uint8 input
GROW = 2.0  # the window's side, in units of the box's longer side
MIN_SIDE = 8  # px: the smallest window (a box of a few pixels still gets some context)
PASSES = 2  # rounds of refinement (dev pages: one round recall 77.4%, two 77.9%, precision 85.2 -> 86.3)
PAPER_K = np.ones((7, 7), np.uint8)  # at 28x28, wider than any stroke: closes the strokes to paper


def window(grey: np.ndarray, box) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Grey uint8 frame + box (x, y, w, h) -> (uint8 SIZE x SIZE window, (x0, y0, side) in frame px).
    The window is square, GROW times the box's longer side, centred on the box; outside the frame it
    repeats the border (paper, mostly). Ink = (paper - pixel) / paper with the paper level a closing of
    the 28x28 window, scaled so the window's strong ink is 255: a shadow or a faint pencil reads alike."""
    H, W = grey.shape[:2]
    x, y, w, h = (float(v) for v in box[:4])
    side = int(round(max(MIN_SIDE, GROW * max(w, h, 1.0))))
    x0, y0 = int(round(x + w / 2 - side / 2)), int(round(y + h / 2 - side / 2))
    ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x0 + side, W), min(y0 + side, H)
    if ax1 <= ax0 or ay1 <= ay0:  # wholly outside the frame: an empty window
        return np.zeros((SIZE, SIZE), np.uint8), (x0, y0, side)
    crop = grey[ay0:ay1, ax0:ax1]
    if (ax0, ay0, ax1, ay1) != (x0, y0, x0 + side, y0 + side):
        crop = cv2.copyMakeBorder(crop, ay0 - y0, y0 + side - ay1, ax0 - x0, x0 + side - ax1, cv2.BORDER_REPLICATE)
    if side > 4 * SIZE:  # area averaging costs what the source has (2 ms for a 600 px window of a 12 MP
        # photo): sample down to 4x the window first, then average (the strokes are wider than a sample)
        crop = cv2.resize(crop, (4 * SIZE, 4 * SIZE), interpolation=cv2.INTER_LINEAR)
    f = cv2.resize(crop, (SIZE, SIZE), interpolation=cv2.INTER_AREA if side > SIZE else cv2.INTER_LINEAR)
    f = f.astype(np.float32)
    paper = np.maximum(cv2.GaussianBlur(cv2.dilate(f, PAPER_K), (0, 0), 2.0), f)
    ink = (paper - f) / np.maximum(paper, 8.0)
    strong = max(float(np.partition(ink.ravel(), int(0.99 * (ink.size - 1)))[int(0.99 * (ink.size - 1))]), 0.08)
    return (np.clip(ink / strong, 0.0, 1.0) * 255).astype(np.uint8), (x0, y0, side)


def to_frame(pred: np.ndarray, geo: np.ndarray, old: np.ndarray) -> np.ndarray:
    """The net's (x0, y0, x1, y1) in window units -> boxes (x, y, w, h) in frame px. A prediction that is
    not finite, or not a box of sane size (inverted, or past twice the window), keeps the old box."""
    side = geo[:, 2:3]
    xy0 = geo[:, :2] + pred[:, :2] * side
    xy1 = geo[:, :2] + pred[:, 2:4] * side
    wh = xy1 - xy0
    out = np.concatenate([xy0, wh], 1).astype(np.float32)
    bad = ~np.isfinite(out).all(1) | (wh <= 0.5).any(1) | (wh > 2 * side).any(1)
    out[bad] = np.asarray(old, np.float32).reshape(-1, 4)[bad]
    return out


def refine(runner, grey: np.ndarray, boxes: np.ndarray, passes: int = PASSES) -> np.ndarray:
    """Boxes (N, 4) x, y, w, h of one grey frame -> the refined boxes (N, 4), one runner call a pass."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    for _ in range(passes if len(boxes) else 0):
        wins, geo = zip(*(window(grey, b) for b in boxes))
        pred = np.asarray(runner.predict(np.stack(wins)), np.float32)
        boxes = to_frame(pred, np.asarray(geo, np.float32), boxes)
    return boxes


def load_refiner(path=None, threads: int = 1):
    """The shipped refine net (config.refine_model()) or the given file, on LiteRT: it is part of the
    detector, and LiteRT comes with every install."""
    from edge_digits import runtime as runtimes
    from edge_digits.config import Runtime, refine_model

    return runtimes.load(path or refine_model(), Runtime.litert, threads, outputs=4)  # a box: 4 numbers
