"""The detector's training targets from ground truth, and the maps a perfect net would give (numpy only,
so the processes that make training samples never import TensorFlow)."""
from __future__ import annotations

import math

import numpy as np

from edge_digits.vision.detector import STRIDE, letterbox


def _sigma(w: float, h: float) -> float:
    # CenterNet's peak spread grows with the box; a digit's width is floored at 0.6 of its height first, so
    # a 1 (a box a fifth as wide as tall) gets the peak of a digit of its height, not of a thin sliver
    # (1s were the digit found least: 68% recall on 300 dev pages against 85-94% for the others)
    return max(0.6, 0.15 * math.sqrt(max(w, 0.6 * h, 1) * max(h, 1)) / STRIDE)


def encode_targets(boxes, numbers, ignore, in_size=(320, 240), src_size=None) -> dict[str, np.ndarray]:
    """Ground truth -> training maps at 1/STRIDE of the net input.

    boxes (N, 4) xywh and ignore (M, 4) xywh in source px; numbers: lists of digit indices in reading
    order (lone digits may be left out); in_size / src_size (W, H) of the net input / the source frame
    (letterboxed as detector_post.letterbox). Returns float32 maps (h, w[, c]):
      heat: Gaussian per digit centre, exactly 1 at its peak cell; heat_mask: 0 on ignore regions
      link: Gaussian band along the segment between consecutive digits of a number
      size: log w, log h (input px) and offset: centre/STRIDE - cell, both valid where reg_mask is 1
    """
    iw, ih = in_size
    s, px, py = letterbox(src_size or in_size, in_size)
    hh, ww = ih // STRIDE, iw // STRIDE
    yy, xx = np.mgrid[0:hh, 0:ww].astype(np.float32)
    heat = np.zeros((hh, ww), np.float32)
    mask = np.ones((hh, ww), np.float32)
    link = np.zeros((hh, ww), np.float32)
    size = np.zeros((hh, ww, 2), np.float32)
    off = np.zeros((hh, ww, 2), np.float32)
    reg = np.zeros((hh, ww), np.float32)
    best = np.zeros((hh, ww), np.float32)
    b = np.asarray(boxes, np.float32).reshape(-1, 4) * s
    b[:, :2] += np.float32([px, py])
    cen = (b[:, :2] + b[:, 2:] / 2) / STRIDE  # centres in cells
    for g in np.asarray(ignore, np.float32).reshape(-1, 4):
        x0, y0 = (g[0] * s + px) / STRIDE - 1, (g[1] * s + py) / STRIDE - 1
        x1, y1 = x0 + g[2] * s / STRIDE + 2, y0 + g[3] * s / STRIDE + 2
        mask[max(0, int(y0)): max(0, int(math.ceil(y1))), max(0, int(x0)): max(0, int(math.ceil(x1)))] = 0
    for k in range(len(b)):
        u, v = cen[k]
        j, i = int(np.clip(math.floor(u), 0, ww - 1)), int(np.clip(math.floor(v), 0, hh - 1))
        sg = _sigma(b[k, 2], b[k, 3])
        r = int(3 * sg) + 1
        y0, y1, x0, x1 = max(0, i - r), min(hh, i + r + 1), max(0, j - r), min(ww, j + r + 1)
        gk = np.exp(-((xx[y0:y1, x0:x1] - j) ** 2 + (yy[y0:y1, x0:x1] - i) ** 2) / (2 * sg * sg))
        np.maximum(heat[y0:y1, x0:x1], gk, out=heat[y0:y1, x0:x1])
        heat[i, j] = 1.0
        mask[i, j] = 1.0
        near = (gk >= 0.5) & (gk > best[y0:y1, x0:x1])
        near[i - y0, j - x0] = True
        best[y0:y1, x0:x1][near] = gk[near]
        reg[y0:y1, x0:x1][near] = 1
        size[y0:y1, x0:x1][near] = np.log(np.maximum(b[k, 2:], 1.0))
        off[y0:y1, x0:x1, 0][near] = u - xx[y0:y1, x0:x1][near]
        off[y0:y1, x0:x1, 1][near] = v - yy[y0:y1, x0:x1][near]
    for num in numbers:
        for a, c2 in zip(num[:-1], num[1:]):
            pa, pb = cen[a], cen[c2]
            sg = max(0.7, 0.22 * 0.5 * (b[a, 3] + b[c2, 3]) / STRIDE)
            r = int(2.5 * sg) + 1
            x0, x1 = max(0, int(min(pa[0], pb[0])) - r), min(ww, int(max(pa[0], pb[0])) + r + 2)
            y0, y1 = max(0, int(min(pa[1], pb[1])) - r), min(hh, int(max(pa[1], pb[1])) + r + 2)
            if x1 <= x0 or y1 <= y0:
                continue
            d = pb - pa
            L2 = float(d @ d) + 1e-6
            qx, qy = xx[y0:y1, x0:x1] - pa[0], yy[y0:y1, x0:x1] - pa[1]
            t = np.clip((qx * d[0] + qy * d[1]) / L2, 0, 1)
            dist2 = (qx - t * d[0]) ** 2 + (qy - t * d[1]) ** 2
            np.maximum(link[y0:y1, x0:x1], np.exp(-dist2 / (2 * sg * sg)), out=link[y0:y1, x0:x1])
    return {"heat": heat, "heat_mask": mask, "link": link, "size": size, "offset": off, "reg_mask": reg}


def stack_targets(t: dict[str, np.ndarray]) -> np.ndarray:
    """One (h, w, 9) float16 array per sample: heat, heat_mask, link, size(2), offset(2), reg_mask, pad."""
    return np.concatenate([t["heat"][..., None], t["heat_mask"][..., None], t["link"][..., None], t["size"],
                           t["offset"], t["reg_mask"][..., None], np.zeros_like(t["heat"])[..., None]],
                          -1).astype(np.float16)


def perfect_maps(t: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The maps a perfect net would output for targets t (prob, geom), for decode round trips."""
    return (np.stack([t["heat"], t["link"]], -1),
            np.concatenate([t["size"], t["offset"]], -1))
