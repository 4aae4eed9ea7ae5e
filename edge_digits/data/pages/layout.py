"""Where digits go (scattered, rows, columns, tables, keypads, cut by the frame edge) and the strokes that
are no digit (underlines, boxes, scribbles, crossings-out, letter-like strokes, pen dots, commas and dashes
beside numbers), which never touch a digit."""
from __future__ import annotations

import cv2
import numpy as np


def _number(s, bank, pen, k, h, labels=None, wobble=0.12, gap=None):
    """k digits side by side: (alpha, dx, dy, ys, xs, label) relative to the number, and its ink size.
    Gaps inside a number are gap (default 0.05-0.6 heights) times 0.6-1.4 each; numbers are kept 1.2+
    heights apart, and a row's numbers further than their own widest gap, so they stay apart."""
    rng = s.rng
    gap = rng.uniform(0.05, 0.6) * h if gap is None else gap
    slant = rng.uniform(-0.3, 0.3)
    amp, freq, ph = rng.uniform(0, wobble) * h, rng.uniform(0.4, 1.2), rng.uniform(0, 6.3)
    out, x = [], 0.0
    for j in range(k):
        lab = None if labels is None else labels[j]
        i = bank.pick(rng, lab)
        hj = h * rng.uniform(0.9, 1.08)  # slight size variation along the number
        a, ys, xs = pen.draw(bank.strokes(i), hj, slant)
        if len(ys) == 0:
            continue
        y = amp * np.sin(ph + j * freq) + (h - hj) * rng.uniform(0.3, 0.9)  # a wobbling baseline
        # the patch goes where its ink box starts at (x, y)
        out.append([a, x - xs.min(), y - ys.min(), ys, xs, int(bank.labels[i])])
        x += xs.max() - xs.min() + 1 + gap * rng.uniform(0.6, 1.4)
    if not out:
        return [], 0, 0
    y0 = min(o[2] + o[3].min() for o in out)
    for o in out:
        o[2] -= y0
    w = max(o[1] + o[4].max() + 1 for o in out)
    hh = max(o[2] + o[3].max() + 1 for o in out)
    return out, w, hh


def _put(s, digits, groups, items, bx, by, h):
    """Commit items (relative to a block at bx, by) as one number; its ink boxes become taken."""
    g = []
    for a, dx, dy, ys, xs, lab in items:
        x, y = int(round(bx + dx)), int(round(by + dy))
        g.append(len(digits))
        digits.append((a, x, y, ys, xs, lab))
        s.taken.append((x + xs.min(), y + ys.min(), x + xs.max() + 1, y + ys.max() + 1))
    if g:
        groups.append(g)


WIDE_GAPS = 0.3  # the share of a row's numbers written with wide gaps (0.6-1.1 heights, times 0.6-1.4 each)


def _digit_h(s, h0, lim, spread=(0.8, 1.25)):
    if s.c["size"] == "mixed":  # each digit or number its own height, log-uniform over the whole range
        lo, hi = max(12, lim[0]), max(12, lim[1])
        return float(np.exp(s.rng.uniform(np.log(lo), np.log(hi + 1e-3))))
    return float(np.clip(h0 * s.rng.uniform(*spread), max(12, lim[0]), max(12, lim[1])))


def lay_out(s, bank, pen, h0, lim):
    rng, lay, W, H = s.rng, s.c["layout"], s.W, s.H
    digits, groups = [], []
    if lay == "scattered":
        for _ in range(int(rng.integers(1, 9))):
            h = _digit_h(s, h0, lim)
            items, w, hh = _number(s, bank, pen, 1, h)
            p = s.spot(w, hh, 0.5 * h) if items else None
            if p:
                _put(s, digits, groups, items, *p, h)
    elif lay == "row":
        for _ in range(int(rng.integers(1, 5 if h0 < 0.25 * H else 3))):
            h = _digit_h(s, h0, lim, (0.85, 1.15))
            # numbers written with ordinary spacing: gaps up to about a digit height and a half (WIDE_GAPS of
            # the numbers; real phone photos of ten-digit rows had such gaps, and a reader tuned on narrow
            # ones read them as several numbers), kept apart from other numbers by more than their widest
            gap = h * (rng.uniform(0.6, 1.1) if rng.random() < WIDE_GAPS else rng.uniform(0.05, 0.6))
            kmax = max(2, min(10, int(0.9 * W / (0.75 * h + gap))))
            items, w, hh = _number(s, bank, pen, int(rng.integers(2, kmax + 1)), h, gap=gap)
            while items and w > 0.95 * W:  # too long for the frame: drop digits from the end
                items, w, hh = _number(s, bank, pen, max(1, len(items) - 2), h, gap=gap)
            p = s.spot(w, hh, max(1.2 * h, 2.1 * gap)) if items else None
            if p:
                _put(s, digits, groups, items, *p, h)
    else:  # column, table, keypad: a block of numbers on a grid, rows close together
        for attempt in range(6):  # a block that does not fit loses rows and columns, then height
            h = h0 * (0.9 ** max(0, attempt - 2))
            if lay == "keypad":
                rows, cols = 4, 3
                labs = ([1, 2, 3, 4, 5, 6, 7, 8, 9, 0] if rng.random() < 0.7 else list(rng.integers(0, 10, 10)))
                lens = [1] * 10
            else:
                rows = int(rng.integers(2, max(3, 7 - attempt)))
                cols = 1 if lay == "column" else int(rng.integers(2, max(3, 5 - attempt)))
                lens = list(rng.integers(1, 7 if lay == "column" else 5, rows * cols))
            # shed rows and columns the frame cannot hold before drawing any digit (0.75 h per digit)
            while lay != "keypad" and rows > 2 and 1.4 * h * rows > 0.85 * H:
                rows -= 1
            while lay == "table" and cols > 2 and cols * 4 * 0.75 * h + (cols - 1) * 2 * h > 0.9 * W:
                cols -= 1
            lens = lens[: rows * cols]
            cells = []
            for j, k in enumerate(lens):
                items, w, hh = _number(s, bank, pen, int(k), h, [labs[j]] if lay == "keypad" else None, 0.05)
                cells.append((items, w, hh))
            pitch_y = h * rng.uniform(1.2, 1.7) if lay != "keypad" else h * rng.uniform(1.4, 2.0)
            colw = [max([cells[r * cols + q][1] for r in range(rows) if r * cols + q < len(cells)] + [1])
                    for q in range(cols)]
            col_gap = h * (rng.uniform(1.3, 2.5) if lay != "keypad" else rng.uniform(0.5, 1.0))
            bw = sum(colw) + col_gap * (cols - 1)
            bh = pitch_y * (rows - 1) + h * 1.25
            p = s.spot(bw, bh, 0.8 * h)
            if p is None:
                continue
            right = rng.random() < 0.6  # numbers in columns are mostly right-aligned
            for j, (items, w, hh) in enumerate(cells):
                r, q = divmod(j, cols)
                if lay == "keypad":
                    if j == 9:
                        r, q = 3, 1  # the 0 sits under the 8
                    x = sum(colw[:q]) + col_gap * q + (colw[q] - w) / 2
                else:
                    x = sum(colw[:q]) + col_gap * q + ((colw[q] - w) if right else 0)
                _put(s, digits, groups, items, p[0] + x, p[1] + r * pitch_y, h)
            break
    if s.c["cut"] == "yes":  # digits half outside the frame: they go to ignore, never to ground truth
        for _ in range(int(rng.integers(1, 3))):
            for _ in range(10):
                h = _digit_h(s, h0, lim, (0.7, 1.3))
                side, t = int(rng.integers(4)), rng.uniform(0.1, 0.9)
                f = [(t * W, 0), (W, t * H), (t * W, H), (0, t * H)][side]
                cx, cy = s.to_canvas([f])[0]
                items, w, hh = _number(s, bank, pen, 1, h)
                if not items:
                    continue
                off = rng.uniform(-0.3, 0.3, 2) * (w, hh)
                bx, by = cx - w / 2 + off[0], cy - hh / 2 + off[1]
                if s.free((bx, by, bx + w, by + hh), 0.5 * h, in_frame=False):
                    _put(s, digits, groups, items, bx, by, h)
                    break
    return digits, groups


def _smooth(p: np.ndarray, n: int = 3) -> np.ndarray:
    """Chaikin corner cutting: a few control points become a smooth hand-drawn curve."""
    for _ in range(n):
        q = np.empty((2 * len(p) - 2, 2))
        q[0::2] = 0.75 * p[:-1] + 0.25 * p[1:]
        q[1::2] = 0.25 * p[:-1] + 0.75 * p[1:]
        p = q
    return p


def _clear(s, pts: np.ndarray, thick: float) -> bool:
    """No segment of the polyline comes near any digit's ink box."""
    if not s.taken:
        return True
    t = np.array(s.taken)
    a, b = pts[:-1], pts[1:]
    m = thick / 2 + 3
    lo, hi = np.minimum(a, b) - m, np.maximum(a, b) + m
    hit = ((lo[:, None, 0] < t[None, :, 2]) & (t[None, :, 0] < hi[:, None, 0]) &
           (lo[:, None, 1] < t[None, :, 3]) & (t[None, :, 1] < hi[:, None, 1]))
    return not hit.any()


def _shape(rng, w, h):
    """A stroke that is no digit, in a w x h box: cursive letters, loops, a crossing-out, a hatch, a tick."""
    kind = int(rng.integers(5))
    if kind == 0:  # cursive letters: up and down bumps along a line
        n = int(rng.integers(4, 12))
        p = np.stack([np.linspace(0, w, n), h * (0.5 + 0.5 * rng.uniform(-1, 1, n) * (np.arange(n) % 2 * 2 - 1))], 1)
        return [_smooth(p)]
    if kind == 1:  # loops like "eee" or "lll"
        t = np.linspace(0, rng.uniform(4, 10) * np.pi, 80)
        r = h * rng.uniform(0.2, 0.45)
        p = np.stack([t / t[-1] * (w - 2 * r) + r - r * 0.8 * np.sin(t), h / 2 - r * np.cos(t)], 1)
        return [p]
    if kind == 2:  # a crossed-out word: a wave, then a zigzag over it
        base = _shape(rng, w, h)[0] if rng.random() < 0.6 else None
        n = int(rng.integers(4, 10))
        z = np.stack([np.linspace(0, w, n), np.where(np.arange(n) % 2, h * 0.15, h * 0.85)], 1)
        return ([base] if base is not None else []) + [z + rng.uniform(-2, 2, z.shape)]
    if kind == 3:  # a tick, a cross or a plus
        if rng.random() < 0.5:
            return [np.array([[0, 0.6 * h], [0.35 * w, h], [w, 0]])]
        return [np.array([[0, 0], [w, h]]), np.array([[w, 0], [0, h]])]
    p = rng.uniform(0, 1, (int(rng.integers(4, 9)), 2)) * (w, h)  # a scribble
    return [_smooth(p, 4)]


def add_clutter(s, img, pen, h0, groups, digits):
    rng = s.rng
    thick = max(1, int(round(pen.frac * h0 * rng.uniform(0.7, 1.3))))
    col = tuple(float(v) for v in (pen.ink * rng.uniform(0.8, 1.2) if rng.random() < 0.7
                                   else rng.uniform(20, 160, 3)))
    lines = []
    for g in groups:  # marks on numbers: underlines and boxes, kept off every digit
        if s.c["clutter"] != "marks" or rng.random() < 0.4:
            continue
        bx = np.array([s.taken[k] for k in g])
        x0, y0 = bx[:, :2].min(0)
        x1, y1 = bx[:, 2:].max(0)
        h = y1 - y0
        if rng.random() < 0.6:
            y = y1 + rng.uniform(0.2, 0.45) * h
            xs = np.linspace(x0 - 0.1 * h, x1 + 0.15 * h, 6)
            p = np.stack([xs, y + rng.uniform(-0.04, 0.04, 6) * h], 1)
            lines += [p] + ([p + (0, 0.12 * h)] if rng.random() < 0.2 else [])
        else:
            m = rng.uniform(0.25, 0.5) * h
            p = np.array([[x0 - m, y0 - m], [x1 + m, y0 - m], [x1 + m, y1 + m], [x0 - m, y1 + m], [x0 - m, y0 - m]])
            lines.append(p + rng.uniform(-0.06, 0.06, p.shape) * h)
    if s.c["clutter"] == "scribbles" or rng.random() < 0.3:
        for _ in range(int(rng.integers(1, 6))):
            for _ in range(20):
                w, h = h0 * rng.uniform(0.5, 3.5), h0 * rng.uniform(0.4, 1.2)
                o = s.to_canvas([[rng.uniform(0, s.W), rng.uniform(0, s.H)]])[0] - (w / 2, h / 2)
                shp = [p + o for p in _shape(rng, w, h)]
                if all(_clear(s, p, thick + 0.4 * h0) for p in shp):
                    lines += shp
                    break
    dots, strokes = _punctuation(s, rng, groups, h0, thick) if rng.random() < 0.6 else ([], [])
    lines = [p for p in lines + strokes if _clear(s, p, thick)]
    if lines:
        cv2.polylines(img, [np.round(p * 8).astype(np.int32) for p in lines], False, col, thick, cv2.LINE_AA, 3)
    for (x, y), r in dots:
        cv2.circle(img, (int(round(x * 8)), int(round(y * 8))), int(round(r * 8)), col, -1, cv2.LINE_AA, 3)


def _punctuation(s, rng, groups, h0, thick):
    """Pen dots, decimal points, commas and dashes beside numbers (a real page's commonest false digit: a
    dot reads as a small 0 or 6, a dash as a 1 lying down). Dots come back as (centre, radius) and are
    drawn filled; commas and dashes come back as strokes for the page's other lines. All clear of digit ink."""
    dots, strokes = [], []
    for _ in range(int(rng.integers(1, 5))):
        if groups and rng.random() < 0.7:  # at a number's end, on its baseline (a full stop) or mid-height
            bx = np.array([s.taken[k] for k in groups[int(rng.integers(len(groups)))]])
            x0, y0 = bx[:, :2].min(0)
            x1, y1 = bx[:, 2:].max(0)
            h = y1 - y0
            x = x1 + rng.uniform(0.15, 0.6) * h if rng.random() < 0.8 else x0 - rng.uniform(0.15, 0.6) * h
            y = y1 - rng.uniform(0, 0.1) * h if rng.random() < 0.6 else y0 + rng.uniform(0.35, 0.65) * h
        else:
            x, y = s.to_canvas([[rng.uniform(0, s.W), rng.uniform(0, s.H)]])[0]
        kind = rng.random()
        if kind < 0.5:  # a dot
            r = max(1.0, thick * rng.uniform(0.5, 2.5))
            if _clear(s, np.array([[x - r, y - r], [x + r, y + r]]), 2):
                dots.append(((x, y), r))
        else:  # a comma (a dot with a short tail) or a dash
            L = h0 * (rng.uniform(0.08, 0.2) if kind < 0.7 else rng.uniform(0.15, 0.5))
            p = (np.array([[0, 0], [-0.15 * L, L]]) if kind < 0.7 else np.array([[0, 0], [L, rng.uniform(-0.1, 0.1) * L]]))
            if _clear(s, p + (x, y), thick):
                strokes.append(p + (x, y))
                if kind < 0.7:
                    dots.append(((x, y), max(1.0, 0.8 * thick)))
    return dots, strokes

