"""Cut one found digit out of the grey source frame for the 28x28 classifier (numpy + cv2 only).

ink_crop: the box grown a little; the paper level estimated locally by a morphological closing (which
fills the dark strokes with the surrounding paper) at a reduced size, then blurred; ink = relative
darkness (paper - pixel) / paper, so a cast shadow (which scales paper and ink alike) cancels out;
normalized by the crop's strong ink. Then, for a box the learned refiner placed (vision.refine, the
default), only the ink inside the box is kept: the box is the digit's. For any other box, only the ink
components whose centre lies in the box are kept (a neighbour digit or a speck inside the margin is
dropped) and the box is snapped to them. classifier_batch feeds normalize_crop; with view_grow it also
cuts a second view of each digit, and classify_views averages the classifier's two readings of it.
"""
from __future__ import annotations


import cv2
import numpy as np

from edge_digits.vision.normalize import normalize_crop


GROW = 0.12  # box growth per side, share of the larger side (plus 2 px)
MAX_SIDE = 96  # crops are worked at most this big
BG_SIDE = 40  # the paper estimate is computed with the crop's longer side scaled to this
# the ink box may reach this share of the net's box beyond it on each side, no further: a neighbour's stroke
# that touches the digit is one ink component with it and would widen the box (on 500 dev pages, recall
# 72.2% unclipped, 73.4% clipped at 0.1; 0.0, 0.05, 0.2 and 0.3 were worse on 200 of them)
SNAP_REACH = 0.1
# The classifier's second view of a digit: its refined box grown by this a side, from the same ink map, the
# two views' probabilities averaged (classify_views). 500 dev pages, camera reader (`scripts/dev_eval.py
# --view-grow G`; recall / precision / read right / numbers whole): one view 83.82 / 88.73 / 77.92 / 56.45;
# 0.05: 83.78 / 89.31 / 78.16 / 56.41; 0.1: 83.70 / 89.82 / 78.27 / 56.49; 0.15: 83.48 / 89.86 / 78.12 /
# 56.36. Each view's own paper estimate read 0.15 points more right, for 0.35 ms more a 640x480 frame.
# Cost (`scripts/bench_ab.py --pair views`): 129 -> 116 frames/s, 0.9 ms a frame.
VIEW_GROW = 0.1


def _odd(k: float) -> int:
    return max(3, int(k) | 1)


def ink_crop(grey: np.ndarray, box, grow: float = GROW, return_box: bool = False, in_box: bool = False,
             view_grow: float = 0.0):
    """Grey uint8 frame + box (x, y, w, h, source px) -> uint8 ink-high crop of the grown box. With
    in_box, the ink inside the box (and a pixel around it) is kept, all else zeroed, and the box is returned
    as it is; view_grow > 0 (with in_box) gives (crop, second view, box): the second view keeps the ink in
    the box grown by view_grow a side, cut from the same ink map (the crop's margin holds it: GROW >=
    view_grow), so it costs no second paper estimate. Without in_box, return_box gives (crop, ink box)
    where the ink box is the bounding box (source px) of the kept ink components, the detector's box
    snapped to the digit, reaching at most SNAP_REACH beyond it (the box itself where no ink was kept)."""
    H, W = grey.shape[:2]
    x, y, w, h = [float(v) for v in box[:4]]
    m = grow * max(w, h) + 2
    x0, y0 = max(0, int(np.floor(x - m))), max(0, int(np.floor(y - m)))
    x1, y1 = min(W, int(np.ceil(x + w + m))), min(H, int(np.ceil(y + h + m)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        z = np.zeros((max(1, y1 - y0), max(1, x1 - x0)), np.uint8)
        if in_box and view_grow:
            return z, z, np.asarray(box[:4], float)
        return (z, np.asarray(box[:4], float)) if return_box else z
    region = grey[y0:y1, x0:x1]
    bx0, by0, bx1, by1 = x - x0, y - y0, x + w - x0, y + h - y0  # the box in crop pixels
    r = MAX_SIDE / max(region.shape)
    if r < 1:  # a big digit: work at MAX_SIDE (normalize_crop brings it to 40 px anyway)
        region = cv2.resize(region, (max(1, round(region.shape[1] * r)), max(1, round(region.shape[0] * r))),
                            interpolation=cv2.INTER_AREA)
        bx0, by0, bx1, by1, w, h = bx0 * r, by0 * r, bx1 * r, by1 * r, w * r, h * r
    region = region.astype(np.float32)
    rh, rw = region.shape
    s = min(1.0, BG_SIDE / max(rh, rw))
    small = cv2.resize(region, (max(1, round(rw * s)), max(1, round(rh * s))), interpolation=cv2.INTER_AREA) \
        if s < 1 else region
    # strokes are up to ~20% of a digit's height (markers): a kernel of a third of the digit fills them
    k = _odd(0.35 * max(w, h) * s)
    bg = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    bg = cv2.GaussianBlur(bg, (0, 0), max(1.0, k / 3))
    if s < 1:
        bg = cv2.resize(bg, (rw, rh), interpolation=cv2.INTER_LINEAR)
    bg = np.maximum(bg, region)  # paper is never darker than the pixel itself
    ink = (bg - region) / np.maximum(bg, 8.0)
    if in_box:  # a refined box is the digit's own: its ink, nothing around it (dev pages: read right
        # 71.2% with the components rule below, 72.9% with this, before edge-cam was trained on it)
        out = _ink_inside(ink, bx0, by0, bx1, by1)
        if view_grow:
            gx, gy = view_grow * (bx1 - bx0), view_grow * (by1 - by0)
            return out, _ink_inside(ink, bx0 - gx, by0 - gy, bx1 + gx, by1 + gy), np.asarray(box[:4], float)
        return (out, np.asarray(box[:4], float)) if return_box else out
    strong = float(np.partition(ink.ravel(), int(0.995 * (ink.size - 1)))[int(0.995 * (ink.size - 1))])
    ink = np.clip((ink / max(strong, 0.08) - 0.2) / 0.7, 0, 1)
    out = (ink * 255).astype(np.uint8)
    # keep the ink components centred in the (ungrown) box
    n, lab, stats, cents = cv2.connectedComponentsWithStats(cv2.compare(out, 80, cv2.CMP_GT), connectivity=8)
    kept = None
    if n == 2:
        kept = np.array([False, True])
    if n > 2:
        cx, cy = cents[:, 0], cents[:, 1]
        inside = (cx >= bx0) & (cx <= bx1) & (cy >= by0) & (cy <= by1)
        big = (np.maximum(stats[:, 2], stats[:, 3]) >= 0.25 * max(w, h)) | (stats[:, 4] >= 0.02 * w * h)
        keep = inside & (big | (stats[:, 4] >= 6))
        keep[0] = False
        if keep.any():
            kept = keep
            mask = keep[lab].astype(np.uint8)
            rr = _odd(0.06 * max(w, h))
            mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (rr, rr)))
            out = out * mask
    if not return_box:
        return out
    fb = np.asarray(box[:4], float)
    if kept is not None and kept.any():
        st = stats[kept]
        lo = st[:, :2].min(0).astype(float)
        hi = (st[:, :2] + st[:, 2:4]).max(0).astype(float)
        f = 1.0 / r if r < 1 else 1.0  # crop px -> source px
        ib = np.array([x0 + lo[0] * f, y0 + lo[1] * f, (hi[0] - lo[0]) * f, (hi[1] - lo[1]) * f])
        # trust the ink only where it agrees with the net's box roughly (not a fragment or a merged pair)
        ix = max(0.0, min(ib[0] + ib[2], fb[0] + fb[2]) - max(ib[0], fb[0]))
        iy = max(0.0, min(ib[1] + ib[3], fb[1] + fb[3]) - max(ib[1], fb[1]))
        inter = ix * iy
        if inter / (ib[2] * ib[3] + fb[2] * fb[3] - inter + 1e-9) >= 0.3:
            gx, gy = SNAP_REACH * fb[2], SNAP_REACH * fb[3]
            a0, b0 = max(ib[0], fb[0] - gx), max(ib[1], fb[1] - gy)
            a1, b1 = min(ib[0] + ib[2], fb[0] + fb[2] + gx), min(ib[1] + ib[3], fb[1] + fb[3] + gy)
            fb = np.array([a0, b0, a1 - a0, b1 - b0])
    return out, fb


def _ink_inside(ink: np.ndarray, bx0: float, by0: float, bx1: float, by1: float) -> np.ndarray:
    """The ink map's part inside a box (crop px, a pixel around it), normalized by its strong ink; zero
    elsewhere."""
    rh, rw = ink.shape
    a0, b0 = max(0, int(np.floor(bx0 - 1))), max(0, int(np.floor(by0 - 1)))
    a1, b1 = min(rw, int(np.ceil(bx1 + 1))), min(rh, int(np.ceil(by1 + 1)))
    out = np.zeros((rh, rw), np.uint8)
    inner = ink[b0:b1, a0:a1]
    if inner.size:
        strong = float(np.partition(inner.ravel(), int(0.995 * (inner.size - 1)))[int(0.995 * (inner.size - 1))])
        out[b0:b1, a0:a1] = (np.clip((inner / max(strong, 0.08) - 0.2) / 0.7, 0, 1) * 255).astype(np.uint8)
    return out


def grown(boxes, g: float) -> list[np.ndarray]:
    """Each (x, y, w, h) box grown by g of its width and height on every side."""
    return [np.array([b[0] - g * b[2], b[1] - g * b[3], b[2] * (1 + 2 * g), b[3] * (1 + 2 * g)], float) for b in boxes]


def classify_views(runner, batch: np.ndarray, second: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's probabilities for the crops `batch` and for their second views (classifier_batch's
    view_grow; without, the first again), in one runner.predict call; the reader averages the two. A digit
    the refiner boxed a little tight or loose reads alike in both, a crop that misses part of the digit
    does not: 500 dev pages, camera reader, one view -> two (recall / precision / read right / numbers
    whole): see VIEW_GROW."""
    if not len(batch):
        z = np.zeros((0, 10), np.float32)
        return z, z
    if second is None:
        p = runner.predict(batch)
        return p, p
    p = runner.predict(np.concatenate([batch, second]))
    return p[:len(batch)], p[len(batch):]


def classifier_batch(grey: np.ndarray, boxes, return_boxes: bool = False, in_box: bool = False,
                     view_grow: float = 0.0):
    """All boxes of a frame -> uint8 (N, 28, 28) for runner.predict (and, with return_boxes, the boxes
    snapped to their ink, or as they are with in_box: see ink_crop). With view_grow > 0: (batch, boxes,
    second views), the second views of the boxes grown by view_grow a side (from the same ink maps with
    in_box; else cut anew from the grown boxes)."""
    if len(boxes) == 0:
        z = np.zeros((0, 28, 28), np.uint8)
        return (z, [], z) if view_grow else (z, []) if return_boxes else z
    if view_grow and in_box:
        res = [ink_crop(grey, b, in_box=True, view_grow=view_grow) for b in boxes]
        return (np.stack([normalize_crop(c) for c, _, _ in res]), [b for _, _, b in res],
                np.stack([normalize_crop(c) for _, c, _ in res]))
    res = [ink_crop(grey, b, return_box=True, in_box=in_box) for b in boxes]
    batch = np.stack([normalize_crop(c) for c, _ in res])
    if view_grow:
        return batch, [b for _, b in res], classifier_batch(grey, grown([b for _, b in res], view_grow))
    return (batch, [b for _, b in res]) if return_boxes else batch
