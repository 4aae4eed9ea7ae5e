"""Cut one found digit out of the grey source frame for the 28x28 classifier (numpy + cv2 only).

ink_crop: the box grown a little; the paper level estimated locally by a morphological closing (which
fills the dark strokes with the surrounding paper) at a reduced size, then blurred; ink = relative
darkness (paper - pixel) / paper, so a cast shadow (which scales paper and ink alike) cancels out;
normalized by the crop's strong ink; then only the ink components whose centre lies in the box are kept
(a neighbour digit or a speck inside the margin is dropped). classifier_batch feeds normalize_crop.
"""
from __future__ import annotations

import cv2
import numpy as np

from edge_digits.vision.normalize import normalize_crop

GROW = 0.12  # box growth per side, share of the larger side (plus 2 px)
BG_SIDE = 40  # the paper estimate is computed with the crop's longer side scaled to this


def _odd(k: float) -> int:
    return max(3, int(k) | 1)


def ink_crop(grey: np.ndarray, box, grow: float = GROW) -> np.ndarray:
    """Grey uint8 frame + box (x, y, w, h, source px) -> uint8 ink-high crop of the grown box."""
    H, W = grey.shape[:2]
    x, y, w, h = [float(v) for v in box[:4]]
    m = grow * max(w, h) + 2
    x0, y0 = max(0, int(np.floor(x - m))), max(0, int(np.floor(y - m)))
    x1, y1 = min(W, int(np.ceil(x + w + m))), min(H, int(np.ceil(y + h + m)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.zeros((max(1, y1 - y0), max(1, x1 - x0)), np.uint8)
    region = grey[y0:y1, x0:x1].astype(np.float32)
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
    strong = float(np.percentile(ink, 99.5))
    ink = np.clip((ink / max(strong, 0.08) - 0.2) / 0.7, 0, 1)
    out = (ink * 255).astype(np.uint8)
    # keep the ink components centred in the (ungrown) box
    n, lab, stats, cents = cv2.connectedComponentsWithStats(cv2.compare(out, 80, cv2.CMP_GT), connectivity=8)
    if n > 2:
        bx0, by0, bx1, by1 = x - x0, y - y0, x + w - x0, y + h - y0
        keep = np.zeros(n, bool)
        for c in range(1, n):
            cx, cy = cents[c]
            bx, by, bw, bh, area = stats[c]
            inside = bx0 <= cx <= bx1 and by0 <= cy <= by1
            big = max(bw, bh) >= 0.25 * max(w, h) or area >= 0.02 * w * h
            keep[c] = inside and (big or area >= 6)
        if keep[1:].any():
            mask = keep[lab].astype(np.uint8)
            r = _odd(0.06 * max(w, h))
            mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (r, r)))
            out = out * mask
    return out


def classifier_batch(grey: np.ndarray, boxes) -> np.ndarray:
    """All boxes of a frame -> uint8 (N, 28, 28) for runner.predict."""
    if len(boxes) == 0:
        return np.zeros((0, 28, 28), np.uint8)
    return np.stack([normalize_crop(ink_crop(grey, b)) for b in boxes])
