"""Box geometry, in one convention: (x, y, w, h) in pixels, x and y of the top-left corner."""
from __future__ import annotations

import numpy as np


def intersection(a, b) -> int:
    """The overlapping area of two boxes."""
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(ix, 0) * max(iy, 0)


def iou(a, b) -> float:
    """Intersection over union of two boxes."""
    inter = intersection(a, b)
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter) if inter else 0.0


def inside(a, b) -> float:
    """The share of box a that lies in box b."""
    return intersection(a, b) / float(max(a[2] * a[3], 1))


def intersections(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) overlapping areas of boxes a (N, 4) and b (M, 4)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    ix = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    iy = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.maximum(ix, 0) * np.maximum(iy, 0)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of boxes a (N, 4) and b (M, 4)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    inter = intersections(a, b)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.where(inter > 0, inter / np.maximum(union, 1e-9), 0.0)


def pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) IoU of the rows of two (N, 4) box arrays, row i with row i."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    ix = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    iy = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.maximum(ix, 0) * np.maximum(iy, 0)
    return inter / np.maximum(a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter, 1e-9)


def union(boxes) -> tuple[int, int, int, int]:
    """The smallest box holding all of boxes (N >= 1)."""
    b = np.asarray(boxes).reshape(-1, 4)
    x0, y0 = b[:, 0].min(), b[:, 1].min()
    return int(x0), int(y0), int((b[:, 0] + b[:, 2]).max() - x0), int((b[:, 1] + b[:, 3]).max() - y0)


def scale(box, s: float) -> tuple[int, int, int, int]:
    """A box at another scale (working pixels -> source pixels with s = source pixels per working pixel)."""
    x0, y0, w, h = box
    return int(x0 * s), int(y0 * s), max(1, round(w * s)), max(1, round(h * s))


def match(truth, found, min_iou: float = 0.5) -> list[tuple[int, int]]:
    """One-to-one (truth index, found index) pairs at IoU >= min_iou, best first."""
    m = iou_matrix(np.asarray(truth).reshape(-1, 4), np.asarray(found).reshape(-1, 4))
    pairs = sorted(((m[i, j], i, j) for i, j in zip(*np.nonzero(m >= min_iou))), reverse=True)
    used_t, used_f, out = set(), set(), []
    for _, i, j in pairs:
        if i not in used_t and j not in used_f:
            used_t.add(i), used_f.add(j)
            out.append((int(i), int(j)))
    return out


def inside_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) share of each box of a (N, 4) that lies in each box of b (M, 4)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    return intersections(a, b) / np.maximum(a[:, 2] * a[:, 3], 1e-9)[:, None]
