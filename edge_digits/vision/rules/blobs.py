"""From ink mask to digit candidates: ruled lines and page edges taken out, the pieces of one digit
grouped, two touching digits cut apart. Helpers of edge_digits.vision, on working-scale pixels."""
from __future__ import annotations

import cv2
import numpy as np

MERGE_ROUNDS = 8  # a digit has few pieces; each round joins every group with one partner
# structuring elements, made once (rows x cols)
K3, K3x1, K1x3, K5x1, K1x5, K1x15, K15x1 = (np.ones(s, np.uint8) for s in ((3, 3), (3, 1), (1, 3), (5, 1), (1, 5),
                                                                          (1, 15), (15, 1)))
SPLIT_ASPECT = 1.2  # wider than this a blob may be two touching digits (4% of MNIST digits are)
# Faint ink has more noise than digits: a blob found only there must convince the model more. On the
# development pages this cut the false alarms from 49 to 35 and lost one digit in 3,939.
FAINT_MIN_CONFIDENCE = 0.5


def shrink(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """cv2.resize(img, size, INTER_AREA), by exact halvings while they fit: OpenCV's 2x2 path is 5-10x
    faster than its general area path (25 against 109 us, 640x480 to 160x120). The grid is the same and
    only rounding differs, by one grey level at most; frames of odd sizes take the one-step resize."""
    w, h = size
    while (img.shape[1] % 2 == 0 and img.shape[0] % 2 == 0 and img.shape[1] >= 2 * w and img.shape[0] >= 2 * h
           and (img.shape[1] > w or img.shape[0] > h)):
        img = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
    if img.shape[1] != w or img.shape[0] != h:
        # half along one axis only: linear interpolation at exactly half is the mean of each pair, 4x faster
        half = (img.shape[1] == 2 * w and img.shape[0] == h) or (img.shape[1] == w and img.shape[0] == 2 * h)
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR if half else cv2.INTER_AREA)
    return img


def long_runs(mask: np.ndarray, quarter: np.ndarray, horizontal: bool) -> np.ndarray:
    """Pixels of strokes far longer than any digit: ruled lines, margin lines, page edges.
    Searched on a mask squeezed 8x along the stroke, so the long opening costs almost nothing; a little
    dilation across it lets lines tilted by a few degrees through."""
    H, W = mask.shape
    if horizontal:
        size, kernel_len, tol = (max(1, W // 8), max(1, H // 4)), max(2, W // 24), (5, 5)
    else:
        size, kernel_len, tol = (max(1, W // 4), max(1, H // 8)), max(2, int(H * 0.6) // 8), (5, 5)
    # squeezed from the quarter-size mask both directions share, not from the full frame again
    sq = cv2.compare(shrink(quarter, size), 10, cv2.CMP_GT)
    wide = cv2.dilate(sq, np.ones(tol[::-1], np.uint8))
    k = (kernel_len, 1) if horizontal else (1, kernel_len)
    wide = cv2.morphologyEx(wide, cv2.MORPH_OPEN, np.ones(k[::-1], np.uint8))
    if not wide.any():
        return np.zeros_like(mask)
    # the wide band lets tilted lines through; keep only the cells the line itself is in
    band = cv2.bitwise_and(wide, cv2.dilate(sq, K3))
    # work only around the lines (a margin line is a narrow strip of the frame), with room for the
    # kernels: the band is blown up to full size there only
    sh, sw = band.shape
    x, y, w, h = cv2.boundingRect(band)
    fx, fy = W / sw, H / sh
    x0, y0 = max(int((x - 1) * fx), 0), max(int((y - 1) * fy), 0)
    x1, y1 = min(int(np.ceil((x + w + 1) * fx)), W), min(int(np.ceil((y + h + 1) * fy)), H)
    bx0, by0 = max(x - 1, 0), max(y - 1, 0)
    sub = band[by0: by0 + int(np.ceil((y1 - y0) / fy)) + 1, bx0: bx0 + int(np.ceil((x1 - x0) / fx)) + 1]
    full = cv2.resize(sub, (round(sub.shape[1] * fx), round(sub.shape[0] * fy)), interpolation=cv2.INTER_NEAREST)
    ox, oy = round(bx0 * fx), round(by0 * fy)
    m = mask[y0:y1, x0:x1]
    band = np.zeros_like(m)
    part = full[y0 - oy: y1 - oy, x0 - ox: x1 - ox]
    band[: part.shape[0], : part.shape[1]] = part
    # In the band go the pixels in long runs along it, unless the ink there is thicker across than a
    # ruled line: a digit stroke crossing the line or lying on it. (The wide dark band a page edge leaves
    # stays too, but it touches the frame edge, and blobs that do are dropped.)
    across, run = (K5x1, K1x15) if horizontal else (K1x5, K15x1)
    along = cv2.morphologyEx(m, cv2.MORPH_OPEN, run)
    # a ragged line edge has short runs: take a pixel more on each side
    line = cv2.bitwise_and(cv2.dilate(cv2.bitwise_and(band, along), K3x1 if horizontal else K1x3), m)
    out = np.zeros_like(mask)
    out[y0:y1, x0:x1] = cv2.subtract(line, cv2.morphologyEx(m, cv2.MORPH_OPEN, across))
    return out


def merge(boxes: np.ndarray, frame: tuple[int, int]) -> list[np.ndarray]:
    """Group fragments of one digit (the hat of a 5, an open 4, a pen skip, a digit cut by a ruled line):
    pieces that share most of their width and stand close above one another, when the union is still
    shaped like a digit. Pairs are tested all at once, and merged until nothing changes."""
    if len(boxes) < 2:
        return [np.array([i]) for i in range(len(boxes))]
    b = np.column_stack([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]]).astype(np.int64)
    # Most blobs are specks far from everything: only those with a neighbour within reach go through
    # the pairwise rounds (the merge rules never join pieces further apart than a third of the taller).
    e = 0.6 * (b[:, 3] - b[:, 1]) + 4
    lo, hi = b[:, :2] - e[:, None], b[:, 2:] + e[:, None]
    near = ((np.minimum(hi[:, None, 0], hi[None, :, 0]) > np.maximum(lo[:, None, 0], lo[None, :, 0]))
            & (np.minimum(hi[:, None, 1], hi[None, :, 1]) > np.maximum(lo[:, None, 1], lo[None, :, 1])))
    np.fill_diagonal(near, False)
    cand = np.flatnonzero(near.any(1))
    alone = [np.array([i]) for i in np.flatnonzero(~near.any(1))]
    if len(cand) < 2:
        return [np.array([i]) for i in range(len(b))]
    b = b[cand]
    groups = [np.array([i]) for i in cand]
    if len(b) <= SMALL_MERGE:
        return _merge_small(b.tolist(), groups, frame) + alone
    for _ in range(MERGE_ROUNDS):
        x0, y0, x1, y1 = (b[:, k] for k in range(4))
        w, h = x1 - x0, y1 - y0
        x_overlap = np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None])
        y_gap = np.maximum(y0[:, None], y0[None]) - np.minimum(y1[:, None], y1[None])
        mw = np.maximum(x1[:, None], x1[None]) - np.minimum(x0[:, None], x0[None])
        mh = np.maximum(y1[:, None], y1[None]) - np.minimum(y0[:, None], y0[None])
        big_w, big_h = np.maximum(w[:, None], w[None]), np.maximum(h[:, None], h[None])
        small_w, small_h = np.minimum(w[:, None], w[None]), np.minimum(h[:, None], h[None])
        area = w * h
        # pieces stacked or nested, but not a small digit written just above or below a big one
        stacked = (((x_overlap >= 0.5 * small_w) & (y_gap >= -0.5 * small_h))  # one above the other
                   | ((x_overlap >= 0.2 * small_w) & (y_gap >= -0.3 * small_h))  # slanted pieces
                   | ((x_overlap >= 0.8 * small_w) & (small_h <= 0.75 * big_h))) & (  # nested: an open 4
            np.minimum(area[:, None], area[None]) >= 0.04 * np.maximum(area[:, None], area[None]))
        x_gap = -x_overlap
        # boxes overlapping both ways: the strokes of an open 4 or a 7 whose bar the pen lifted off
        crossed = (x_overlap >= 0.3 * small_w) & (-y_gap >= 0.3 * small_h)
        # a small piece right beside a big one: the tail of a 2, the foot of a 1 cut off by a line
        beside = (small_h < 0.65 * big_h) & (np.maximum(x_gap, y_gap) <= 3 + 0.25 * small_h)
        # a slanted stroke the pen skipped on: the pieces meet corner to corner, one above the other
        corner = (x_gap <= 2) & (y_gap >= -0.2 * small_h) & (y_gap <= 0.1 * mh + 3)
        # pieces that all but touch one above the other: a long slanted stroke the pen skipped on is as
        # wide as it is tall, but no two digits stand this close on top of each other
        skip = (y_gap >= -2) & (y_gap <= 0.05 * mh + 3) & (x_overlap >= -2)
        # a speck of dust beside a digit is no part of it
        sizable = np.minimum(area[:, None], area[None]) >= 0.015 * np.maximum(area[:, None], area[None])
        ok = ((stacked | ((beside | corner | crossed) & sizable))
              & (y_gap <= 0.12 * mh + 4) & (mh <= 2.3 * big_h) & (mw <= 2.0 * mh)
              & ((mw <= 1.6 * big_w) | (mw <= 0.8 * mh) | (skip & (mw <= 1.1 * mh))
                  # corner to corner, all but touching: a slanted digit as wide as it is tall (a 2, a 7)
                  | (corner & (y_gap <= 2) & (mw <= 1.3 * mh))))
        # nothing joins a blob over half the frame (the desk band, a page edge): it would take the digit
        # beside it out of the frame, where blobs are dropped
        huge = (w > frame[0] // 2) | (h > frame[1] // 2)
        ok &= ~(huge[:, None] | huge[None])
        np.fill_diagonal(ok, False)
        if len(b) < 2 or not ok.any():
            break
        # one merge per group and round: join each group with its first partner, in a single pass
        taken = np.zeros(len(b), bool)
        new_b, new_g = [], []
        for i, j in zip(*np.nonzero(np.triu(ok))):
            if taken[i] or taken[j]:
                continue
            taken[i] = taken[j] = True
            new_b.append([min(b[i, 0], b[j, 0]), min(b[i, 1], b[j, 1]), max(b[i, 2], b[j, 2]), max(b[i, 3], b[j, 3])])
            new_g.append(np.concatenate([groups[i], groups[j]]))
        rest = np.flatnonzero(~taken)
        b = np.concatenate([np.array(new_b, np.int64).reshape(-1, 4), b[rest]])
        groups = new_g + [groups[i] for i in rest]
    return groups + alone


# Up to this many blobs near each other (most frames: a few digits in pieces), the pairs are tested one by
# one in plain Python: 40 numpy calls a round cost more than the few pairs themselves (on 600 development
# pages the merge took 0.20 ms a frame, now 0.07, with the same groups in all 1,200 calls).
SMALL_MERGE = 12


def _joinable(p, q, frame) -> bool:
    """merge's rules for one pair of (x0, y0, x1, y1) boxes, the same expressions on scalars (a test holds the
    two versions to the same answers)."""
    ax0, ay0, ax1, ay1 = p
    bx0, by0, bx1, by1 = q
    wa, ha, wb, hb = ax1 - ax0, ay1 - ay0, bx1 - bx0, by1 - by0
    if wa > frame[0] // 2 or ha > frame[1] // 2 or wb > frame[0] // 2 or hb > frame[1] // 2:
        return False
    x_overlap = min(ax1, bx1) - max(ax0, bx0)
    y_gap = max(ay0, by0) - min(ay1, by1)
    mw, mh = max(ax1, bx1) - min(ax0, bx0), max(ay1, by1) - min(ay0, by0)
    big_w, big_h, small_w, small_h = max(wa, wb), max(ha, hb), min(wa, wb), min(ha, hb)
    if not (y_gap <= 0.12 * mh + 4 and mh <= 2.3 * big_h and mw <= 2.0 * mh):
        return False
    a_min, a_max = min(wa * ha, wb * hb), max(wa * ha, wb * hb)
    x_gap = -x_overlap
    corner = x_gap <= 2 and y_gap >= -0.2 * small_h and y_gap <= 0.1 * mh + 3
    skip = y_gap >= -2 and y_gap <= 0.05 * mh + 3 and x_overlap >= -2
    if not (mw <= 1.6 * big_w or mw <= 0.8 * mh or (skip and mw <= 1.1 * mh)
            or (corner and y_gap <= 2 and mw <= 1.3 * mh)):
        return False
    stacked = ((x_overlap >= 0.5 * small_w and y_gap >= -0.5 * small_h)
               or (x_overlap >= 0.2 * small_w and y_gap >= -0.3 * small_h)
               or (x_overlap >= 0.8 * small_w and small_h <= 0.75 * big_h)) and a_min >= 0.04 * a_max
    if stacked:
        return True
    crossed = x_overlap >= 0.3 * small_w and -y_gap >= 0.3 * small_h
    beside = small_h < 0.65 * big_h and max(x_gap, y_gap) <= 3 + 0.25 * small_h
    return (beside or corner or crossed) and a_min >= 0.015 * a_max


def _merge_small(b: list, groups: list, frame) -> list[np.ndarray]:
    """merge's rounds for a few boxes (lists of x0, y0, x1, y1), pair by pair in the same order."""
    for _ in range(MERGE_ROUNDS):
        n = len(b)
        taken = [False] * n
        new_b, new_g = [], []
        for i in range(n):
            for j in range(i + 1, n):
                if taken[i] or taken[j] or not _joinable(b[i], b[j], frame):
                    continue
                taken[i] = taken[j] = True
                new_b.append([min(b[i][0], b[j][0]), min(b[i][1], b[j][1]), max(b[i][2], b[j][2]), max(b[i][3], b[j][3])])
                new_g.append(np.concatenate([groups[i], groups[j]]))
        if not new_b:
            break
        rest = [i for i in range(n) if not taken[i]]
        b = new_b + [b[i] for i in rest]
        groups = new_g + [groups[i] for i in rest]
    return groups


def split(crop: np.ndarray) -> list[tuple[int, int, int, int]] | None:
    """Two touching digits (blur or a hurried hand joins neighbours in a number): cut at the thinnest
    column of the middle, if both sides are still digit-sized. Returns the two sides' x, y, w, h."""
    h, w = crop.shape
    cols = np.count_nonzero(crop, axis=0)
    lo, hi = int(0.3 * w), int(0.7 * w) + 1
    cut = lo + int(np.argmin(cols[lo:hi]))
    if cols[cut] > 0.3 * h:
        return None
    out = []
    for a, b in ((0, cut), (cut, w)):
        part = crop[:, a:b]
        ys, xs = np.nonzero(part)
        if len(ys) == 0 or ys.max() - ys.min() + 1 < 0.5 * h:
            return None
        out.append((a + int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)))
    return out


def near_pairs(b: np.ndarray, limit: int = 3) -> list[tuple[int, int]]:
    """Pairs of groups (x0, y0, x1, y1) close enough, and shaped together enough like one digit, that they
    may be two pieces of it the merge rules dared not join: offered to the classifier both ways. Each
    group pairs with its `limit` nearest such neighbours at most."""
    if len(b) < 2:
        return []
    x0, y0, x1, y1 = (b[:, k] for k in range(4))
    mw = np.maximum(x1[:, None], x1[None]) - np.minimum(x0[:, None], x0[None])
    mh = np.maximum(y1[:, None], y1[None]) - np.minimum(y0[:, None], y0[None])
    gap = np.maximum(np.maximum(x0[:, None], x0[None]) - np.minimum(x1[:, None], x1[None]),
                     np.maximum(y0[:, None], y0[None]) - np.minimum(y1[:, None], y1[None]))
    ok = (gap <= 0.25 * mh) & (mw <= SPLIT_ASPECT * mh)
    np.fill_diagonal(ok, False)
    out = set()
    for i in np.flatnonzero(ok.any(1)):
        js = np.flatnonzero(ok[i])
        for j in js[np.argsort(gap[i, js], kind="stable")[:limit]]:
            out.add((min(i, j), max(i, j)))
    return sorted(out)


def choose(conf: np.ndarray, det, min_confidence: float) -> np.ndarray:
    """Which candidates of a frame (edge_digits.detect.Detections) to keep, from the model's confidence in
    each: none under min_confidence (nor under FAINT_MIN_CONFIDENCE, for a candidate seen only in the faint
    ink); a wide blob or its two halves (det.splits), and a candidate or the ones it covers (det.joins),
    whichever the model is surer of."""
    need = np.full(len(conf), float(min_confidence))
    need[det.faint] = max(min_confidence, FAINT_MIN_CONFIDENCE)
    keep = conf >= need
    halves = {}
    for whole, a, b in det.splits:
        halves[whole] = (a, b)
        w, h = det.boxes[whole][2:]
        # hardly any digit is half again as wide as tall: there, two readable halves win
        if min(conf[a], conf[b]) > (min(conf[whole], min_confidence) if w > 1.5 * h else conf[whole]):
            keep[whole] = False
        else:
            keep[a] = keep[b] = False
    used = set()
    for u, *parts in sorted(det.joins, key=lambda j: -conf[j[0]]):
        keep[u] = False
        if used.intersection(parts):
            continue
        every = parts + [k for i in parts for k in halves.get(i, ())]
        best = max((conf[i] for i in every if keep[i]), default=0.0)
        if conf[u] >= need[u] and conf[u] > best:
            keep[u] = True
            keep[every] = False
            used.update(parts)
    return keep
