"""Fit each digit's box to the whole digit: the detector's blobs are sometimes only part of it (the hat of
a 5 the pen lifted off, an open 4 in pieces, the tail of a 6 a ruled line cut). A small CNN looks at a
window twice the box's size around it and says where the whole digit's box is; the box then grows by the
ink blobs that lie (almost) wholly inside that estimate. The blobs, not the net's numbers, give the final
edges: the net is good at "that piece belongs to this digit" and poor at single pixels (a 1 is 3 px wide).

No library does this (it is the box-regression step of two-stage detectors, bound to our own candidates),
so it is written here; the net is trained by scripts/train_boxfit.py on photo-like pages (edge_digits.synth)
and runs through the same runtimes as the classifier. Pure functions on pixels and one runner call.
"""
from __future__ import annotations

import cv2
import numpy as np

from edge_digits.core.boxes import intersection
from edge_digits.vision.rules.detect import to_source

GROW = 2.0  # the window's side, in units of the box's longer side
SIZE = 28  # the window is shrunk to SIZE x SIZE: the runners' 28x28 uint8 input
OTHER = 127  # other ink in the window at about half the level of the candidate's own (which is 255 at full ink)
MARGIN = 0.1  # the net's box, widened by this share (and a pixel) before blobs are tested against it
SHARE = 0.8  # a blob joins the digit when this share of its box lies in the widened estimate
NESTED = 0.7  # a digit whose box lies this much inside a bigger digit's box is a piece of it: dropped
# Only digits up to this many working pixels tall are fitted. The small ones are where boxes go wrong (a faint
# stroke, a piece the merge dared not join) and their windows are cheap. On the development pages (3,939
# digits, --min-confidence 0.2): fitting up to 25 px found 5 digits more (27 missed against 32), up to 50 px
# 7 more for twice the time (0.23 against 0.12 ms a frame), which the 400 fps goal cannot spare.
MAX_H = 25


def load(threads: int = 1):
    """The shipped box-fit net (config.boxfit_model()) on LiteRT, whatever runs the classifier: it is part of
    the detector, and LiteRT comes with every install."""
    from edge_digits import runtime as runtimes
    from edge_digits.config import Runtime, boxfit_model

    return runtimes.load(boxfit_model(), Runtime.litert, threads, outputs=4)  # a box: 4 numbers


def window(darker: np.ndarray, paper: np.ndarray, box, own: np.ndarray | None = None):
    """The net's input for one candidate: a square window GROW times the box's longer side around its centre
    (working pixels), the ink darkness relative to the paper (75% darker is full ink, as in the classifier's
    crops) at half level, and the candidate's own ink (its crop) at full level, shrunk to SIZE x SIZE.
    The paper level is taken at the box's centre: it changes too slowly to matter inside one window, and one
    scale is cheaper than a division by every pixel (the same scores on the development pages).
    Returns (window uint8, (x0, y0, side))."""
    x, y, w, h = (int(v) for v in box)
    s = max(8, int(round(GROW * max(w, h))))
    x0, y0 = int(round(x + w / 2 - s / 2)), int(round(y + h / 2 - s / 2))
    H, W = darker.shape
    ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x0 + s, W), min(y0 + s, H)
    alpha = OTHER / 0.75 / max(int(paper[min(y + h // 2, H - 1), min(x + w // 2, W - 1)]), 1)
    if (ax0, ay0, ax1, ay1) == (x0, y0, x0 + s, y0 + s):
        out = cv2.convertScaleAbs(darker[y0: y0 + s, x0: x0 + s], alpha=alpha)
    else:  # the window runs off the frame: paper (no ink) there
        out = np.zeros((s, s), np.uint8)
        if ax1 > ax0 and ay1 > ay0:
            out[ay0 - y0: ay1 - y0, ax0 - x0: ax1 - x0] = cv2.convertScaleAbs(darker[ay0:ay1, ax0:ax1], alpha=alpha)
    if own is not None:
        sub = out[y - y0: y - y0 + h, x - x0: x - x0 + w]
        np.maximum(sub, own[: sub.shape[0], : sub.shape[1]], out=sub)
    small = cv2.resize(out, (SIZE, SIZE), interpolation=cv2.INTER_AREA if s > SIZE else cv2.INTER_LINEAR)
    return small, (x0, y0, s)


def grow(boxes: np.ndarray, estimates: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """Each box (x, y, w, h rows) grown by every blob rect of which SHARE lies in its estimate widened by
    MARGIN; blobs already inside the box change nothing. All in the same pixels; all boxes at once."""
    out = np.asarray(boxes, np.int64).reshape(-1, 4)
    if not len(rects) or not len(out):
        return out
    e = np.asarray(estimates, np.float64).reshape(-1, 4)
    m = MARGIN * e[:, 2:] + 1
    lo, hi = (e[:, :2] - m)[:, :, None], (e[:, :2] + e[:, 2:] + m)[:, :, None]  # (boxes, xy, 1)
    r0, r1 = rects[:, :2].T[None], (rects[:, :2] + rects[:, 2:]).T[None]  # (1, xy, rects)
    span = np.clip(np.minimum(r1, hi) - np.maximum(r0, lo), 0, None)  # (boxes, xy, rects)
    inside = span[:, 0] * span[:, 1] >= SHARE * (rects[:, 2] * rects[:, 3])
    big = np.iinfo(np.int64).max
    a = np.minimum(out[:, :2], np.where(inside[:, None], r0, big).min(2))
    b = np.maximum(out[:, :2] + out[:, 2:], np.where(inside[:, None], r1, -big).max(2))
    return np.concatenate([a, b - a], 1)


def fit(det, idx, runner) -> list[tuple[int, int, int, int]]:
    """Source-frame boxes of the candidates idx of det (edge_digits.detect.Detections), each up to MAX_H
    grown to the whole digit, in one runner call; taller ones as they are."""
    out = [det.boxes[i] for i in idx]
    todo = [k for k, i in enumerate(idx) if det.work[i][3] <= MAX_H]
    if not todo:
        return out
    wins, where = zip(*(window(det.darker, det.paper, det.work[idx[k]], det.crops[idx[k]]) for k in todo))
    pred = runner.predict(np.stack(wins)).astype(np.float64)
    w = np.array(where, np.float64)
    est = np.column_stack([w[:, :2] + pred[:, :2] * w[:, 2:], (pred[:, 2:] - pred[:, :2]) * w[:, 2:]])
    work = np.array([det.work[idx[k]] for k in todo], np.int64)
    grown = grow(work, est, det.rects)
    bad = (est[:, 2] <= 0) | (est[:, 3] <= 0)
    grown[bad] = work[bad]
    for k, box in zip(todo, grown.tolist()):
        out[k] = to_source(box, det.scale)
    return out


def drop_nested(boxes: list) -> list[int]:
    """Indices of the boxes to keep, biggest first: none lying NESTED inside a bigger one kept."""
    order = sorted(range(len(boxes)), key=lambda i: -boxes[i][2] * boxes[i][3])
    kept: list[int] = []
    for i in order:
        b = boxes[i]
        if all(intersection(b, boxes[j]) < NESTED * b[2] * b[3] for j in kept):
            kept.append(i)
    return sorted(kept)
