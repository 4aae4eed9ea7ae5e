"""Refine the learned detector's boxes with a second, tiny net: the box-regression stage of two-stage
detectors (Faster R-CNN's second stage, Cascade R-CNN's repeated one), bound to our own candidates.

The detector reads sizes off 1/4-resolution maps, so a small digit's box is often off by a cell: too wide
(it takes in a neighbour), too narrow (a thin 1) or shifted, and a box under IoU 0.5 with the digit is a
miss and a false alarm at once. Here each box gets a square window GROW times its longer side around its
centre (in the last round, narrower across a thin box: THIN), shrunk to 28x28 and turned into ink against
the window's own paper; the net (the same small CNN as the rules path's box fit, training.models.box_fit,
trained by scripts/train_refine.py on the shipped detector's boxes and jittered true boxes of training
pages) says where the digit's box is in that window. PASSES rounds, each on the previous round's boxes (a
box that moved far is seen better centred the second time). On 500 development pages: recall 73.1% ->
77.9% and precision 80.9% -> 86.3% with two rounds of the prototype net, against the ink-snapping rules
it replaces (vision.crops' snap).

No library does this for a detector of our own, so it is written here: numpy + cv2 and one runner call a
round (runtime.load's LiteRT runner of the 28x28 int8 file).
"""
from __future__ import annotations

import cv2
import numpy as np

SIZE = 28  # the window is shrunk to SIZE x SIZE: the runners' 28x28 uint8 input
GROW = 2.0  # the window's side, in units of the box's longer side (see THIN)
# The last round reads a box thinner than THIN of its longer side in a window narrower across in proportion,
# down to NARROWEST of the square one: a thin 1 (a fifth as wide as tall) then fills twice the window's
# width, so its width is read at twice the resolution (in a square window of 2x its height a 6 px wide 1 is
# 1.6 window px wide, and one window px either way halves its IoU). The first round reads square windows: a
# thin box shifted sideways would leave its digit at the edge of a narrow one. 1000 dev pages, camera
# reader (recall / precision / read right / numbers whole; 1s' recall): square windows 89.60 / 91.76 /
# 83.35 / 67.99, 73.1%; narrow in both rounds 89.92 / 92.15 / 83.67 / 68.25, 75.9%; square then narrow (this)
# 89.83 / 92.10 / 83.60 / 68.20, 75.4%. THIN 0.35: recall 89.87, 0.7: 89.72, 1.0: 87.96; NARROWEST 0.35 and
# 0.65 as 0.5. The shipped net was trained on square windows and reads the narrow ones as they are: one
# retrained on narrow windows alone read 89.69 / 91.49 / 82.95 / 67.25 narrow in both rounds.
THIN = 0.5
NARROWEST = 0.5
MIN_SIDE = 8  # px: the smallest window (a box of a few pixels still gets some context)
PASSES = 2  # rounds of refinement (dev pages: one round recall 77.4%, two 77.9%, precision 85.2 -> 86.3)
PAPER_K = np.ones((7, 7), np.uint8)  # at 28x28, wider than any stroke: closes the strokes to paper


def window(grey: np.ndarray, box, thin: float = THIN) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Grey uint8 frame + box (x, y, w, h) -> (uint8 SIZE x SIZE window, (x0, y0, width, height) in frame
    px). The window is square, GROW times the box's longer side (narrower across a box thinner than `thin`
    of its longer side, see THIN; 0: always square; at least MIN_SIDE), centred on the box, and shrunk to
    SIZE x SIZE; outside the frame it repeats the border (paper, mostly). Ink = (paper - pixel) / paper with
    the paper level a closing of the window, scaled so the window's strong ink is 255: a shadow or a faint
    pencil reads alike."""
    H, W = grey.shape[:2]
    x, y, w, h = (float(v) for v in box[:4])
    w, h = max(w, 1.0), max(h, 1.0)
    long = GROW * max(w, h)
    across = long * min(1.0, max(NARROWEST, min(w, h) / (thin * max(w, h) + 1e-9)))  # the thin side's
    sw, sh = (int(round(max(MIN_SIDE, v))) for v in ((across, long) if w < h else (long, across)))
    x0, y0 = int(round(x + w / 2 - sw / 2)), int(round(y + h / 2 - sh / 2))
    ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x0 + sw, W), min(y0 + sh, H)
    if ax1 <= ax0 or ay1 <= ay0:  # wholly outside the frame: an empty window
        return np.zeros((SIZE, SIZE), np.uint8), (x0, y0, sw, sh)
    crop = grey[ay0:ay1, ax0:ax1]
    if (ax0, ay0, ax1, ay1) != (x0, y0, x0 + sw, y0 + sh):
        crop = cv2.copyMakeBorder(crop, ay0 - y0, y0 + sh - ay1, ax0 - x0, x0 + sw - ax1, cv2.BORDER_REPLICATE)
    if max(sw, sh) > 4 * SIZE:  # area averaging costs what the source has (2 ms for a 600 px window of a 12
        # MP photo): sample down to 4x the window first, then average (the strokes are wider than a sample)
        crop = cv2.resize(crop, (min(sw, 4 * SIZE), min(sh, 4 * SIZE)), interpolation=cv2.INTER_LINEAR)
    f = cv2.resize(crop, (SIZE, SIZE), interpolation=cv2.INTER_AREA if min(sw, sh) > SIZE else cv2.INTER_LINEAR)
    f = f.astype(np.float32)
    paper = np.maximum(cv2.GaussianBlur(cv2.dilate(f, PAPER_K), (0, 0), 2.0), f)
    ink = (paper - f) / np.maximum(paper, 8.0)
    strong = max(float(np.partition(ink.ravel(), int(0.99 * (ink.size - 1)))[int(0.99 * (ink.size - 1))]), 0.08)
    return (np.clip(ink / strong, 0.0, 1.0) * 255).astype(np.uint8), (x0, y0, sw, sh)


def to_frame(pred: np.ndarray, geo: np.ndarray, old: np.ndarray) -> np.ndarray:
    """The net's (x0, y0, x1, y1) in window units -> boxes (x, y, w, h) in frame px. A prediction that is
    not finite, or not a box of sane size (inverted, or past twice the window), keeps the old box."""
    side = geo[:, 2:4]  # the window's width and height
    xy0 = geo[:, :2] + pred[:, :2] * side
    xy1 = geo[:, :2] + pred[:, 2:4] * side
    wh = xy1 - xy0
    out = np.concatenate([xy0, wh], 1).astype(np.float32)
    bad = ~np.isfinite(out).all(1) | (wh <= 0.5).any(1) | (wh > 2 * side.max(1, keepdims=True)).any(1)
    out[bad] = np.asarray(old, np.float32).reshape(-1, 4)[bad]
    return out


def refine(runner, grey: np.ndarray, boxes: np.ndarray, passes: int = PASSES) -> np.ndarray:
    """Boxes (N, 4) x, y, w, h of one grey frame -> the refined boxes (N, 4), one runner call a pass; the
    last pass reads thin boxes in narrower windows (THIN), the others square ones."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    for k in range(passes if len(boxes) else 0):
        thin = THIN if k == passes - 1 else 0.0
        wins, geo = zip(*(window(grey, b, thin) for b in boxes))
        pred = np.asarray(runner.predict(np.stack(wins)), np.float32)
        boxes = to_frame(pred, np.asarray(geo, np.float32), boxes)
    return boxes


def load_refiner(path=None, threads: int = 1):
    """The shipped refine net (config.refine_model()) or the given file, on LiteRT: it is part of the
    detector, and LiteRT comes with every install."""
    from edge_digits import runtime as runtimes
    from edge_digits.config import Runtime, refine_model

    return runtimes.load(path or refine_model(), Runtime.litert, threads, outputs=4)  # a box: 4 numbers
