"""The page pipeline behind pages.make_page: conditions, pen, layout, strokes that are no digit, camera.

The page is drawn on a canvas in paper coordinates; a homography (rotation, perspective) maps it onto the
frame, so ruled lines, desk and digits warp together. Light, blur, noise and JPEG act in the frame.
"""
from __future__ import annotations

import cv2
import numpy as np

from edge_digits.data.pages.core import (CONDITIONS, EDGE, INKS, LAYOUT_MAX_H, PEN_WIDTH, SIZES, TINTS, Number, Page, _crop_tile)

WEIGHTS = {"pen": [.2, .3, .2, .15, .15], "pressure": [.6, .4], "size": [.16, .28, .24, .12, .2],
           "layout": [.2, .35, .15, .15, .15], "clutter": [.35, .35, .3], "light": [.15, .2, .15, .25, .1, .15],
           "paper": [.35, .4, .25], "tint": [.35, .2, .15, .15, .15], "desk": [.7, .3],
           "geometry": [.4, .3, .3], "blur": [.45, .35, .2], "resolution": [.8, .2], "noise": [.6, .4],
           "jpeg": [.3, .45, .25], "cut": [.6, .4]}


MIXED_LAYOUTS = ("scattered", "row")  # a grid's numbers share one height; loose digits and rows need not


def _conditions(rng, ov: dict, H: int) -> dict:
    c = {}
    for k in ("pen", "pressure", "clutter", "light", "paper", "tint", "desk", "geometry", "blur", "resolution",
              "noise", "jpeg", "cut"):
        c[k] = ov.get(k) or CONDITIONS[k][int(rng.choice(len(CONDITIONS[k]), p=WEIGHTS[k]))]
    inks = ["black", "blue", "red", "green"]
    c["ink"] = ov.get("ink") or ("graphite" if c["pen"] == "pencil" else inks[int(rng.choice(4, p=[.45, .35, .1, .1]))])
    fits = lambda s, lay: SIZES[s][0] <= LAYOUT_MAX_H[lay] * H and (s != "mixed" or lay in MIXED_LAYOUTS)  # noqa: E731
    if "layout" in ov and "size" not in ov:  # the layout is forced: draw a size it can hold
        c["layout"] = ov["layout"]
        opts = [s for s in CONDITIONS["size"] if fits(s, c["layout"])] or ["tiny"]
        c["size"] = opts[int(rng.integers(len(opts)))]
    else:
        c["size"] = ov.get("size") or CONDITIONS["size"][int(rng.choice(5, p=WEIGHTS["size"]))]
        opts = [(lay, w) for lay, w in zip(CONDITIONS["layout"], WEIGHTS["layout"]) if fits(c["size"], lay)]
        opts = opts or [("scattered", 1.0)]
        w = np.array([w for _, w in opts])
        c["layout"] = ov.get("layout") or opts[int(rng.choice(len(opts), p=w / w.sum()))][0]
    return c


class Sheet:
    """The canvas being drawn, what is placed on it, and the checks that keep things apart and in frame."""

    def __init__(self, rng, W, H, c):
        self.rng, self.W, self.H, self.c = rng, W, H, c
        F = np.float32([[0, 0], [W, 0], [W, H], [0, H]])
        geo = c["geometry"]
        ang, jit = ((rng.uniform(-1, 1), 0.004) if geo == "flat" else
                    (rng.choice([-1, 1]) * rng.uniform(3, 15), 0.01) if geo == "rotated" else
                    (rng.uniform(-3, 3), rng.uniform(0.03, 0.09)))
        t = np.deg2rad(ang)
        R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        Q = (F - (W / 2, H / 2)) @ R.T + (W / 2, H / 2) + rng.uniform(-jit, jit, (4, 2)) * (W, H)
        Q = Q - Q.min(0) + 4
        self.Q = Q.astype(np.float32)
        self.M = cv2.getPerspectiveTransform(self.Q, F)  # canvas -> frame
        self.Minv = np.linalg.inv(self.M)
        self.Wc, self.Hc = (int(v) + 5 for v in np.ceil(Q.max(0)))
        self.taken: list[tuple[float, float, float, float]] = []  # x0, y0, x1, y1 of digit ink (canvas)
        self.paper_line = None  # (point, inward normal): the paper ends there and the desk shows

    def to_frame(self, pts) -> np.ndarray:
        return cv2.perspectiveTransform(np.asarray(pts, np.float32).reshape(1, -1, 2), self.M)[0]

    def to_canvas(self, pts) -> np.ndarray:
        return cv2.perspectiveTransform(np.asarray(pts, np.float32).reshape(1, -1, 2), self.Minv)[0]

    def free(self, r, margin, in_frame=True) -> bool:
        x0, y0, x1, y1 = r
        corners = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        if in_frame:
            q = self.to_frame(corners)
            m = EDGE + 3
            if (q < m).any() or (q[:, 0] > self.W - m).any() or (q[:, 1] > self.H - m).any():
                return False
        if self.paper_line is not None:
            p, n = self.paper_line
            if ((corners - p) @ n < 4).any():
                return False
        return all(x1 + margin < a0 or a1 + margin < x0 or y1 + margin < b0 or b1 + margin < y0
                   for a0, b0, a1, b1 in self.taken)

    def spot(self, bw, bh, margin, tries=40):
        """A top-left corner for a bw x bh block of digits, in frame and clear of others, or None."""
        lo, hi = self.to_canvas([[0, 0], [self.W, 0], [self.W, self.H], [0, self.H]]).min(0), None
        hi = self.to_canvas([[0, 0], [self.W, 0], [self.W, self.H], [0, self.H]]).max(0)
        for _ in range(tries):
            if hi[0] - lo[0] - bw <= 0 or hi[1] - lo[1] - bh <= 0:
                return None
            x, y = self.rng.uniform(lo[0], hi[0] - bw), self.rng.uniform(lo[1], hi[1] - bh)
            if self.free((x, y, x + bw, y + bh), margin):
                return x, y
        return None


def _paper(s: Sheet) -> np.ndarray:
    rng, c = s.rng, s.c
    tint = np.array(TINTS[c["tint"]], np.float32) + rng.uniform(-8, 6, 3)
    img = np.empty((s.Hc, s.Wc, 3), np.uint8)
    img[:] = np.clip(tint, 0, 255).astype(np.uint8)
    if c["tint"] == "recycled":  # fibres and flecks
        for _ in range(int(rng.integers(40, 200))):
            p = (int(rng.integers(s.Wc)), int(rng.integers(s.Hc)))
            cv2.circle(img, p, 1, tuple(float(v) for v in tint - rng.uniform(25, 70)), -1, cv2.LINE_AA)
    k = s.H / 480
    if c["paper"] == "ruled":  # lines lie across the digits wherever they fall
        gap = rng.uniform(16, 48) * k
        col = [(225, 190, 160), (175, 175, 175), (150, 120, 95)][int(rng.integers(3))]
        for y in np.arange(rng.uniform(0, gap), s.Hc, gap):
            cv2.line(img, (0, int(y * 8)), (s.Wc * 8, int(y * 8)), col, int(rng.integers(1, 3)), cv2.LINE_AA, 3)
        if rng.random() < 0.4:
            x = int(s.Q[:, 0].min() + rng.uniform(0.05, 0.3) * s.W)
            cv2.line(img, (x, 0), (x, s.Hc), (110, 110, 215), int(rng.integers(1, 3)), cv2.LINE_AA)
    elif c["paper"] == "squared":
        gap = rng.uniform(12, 32) * k
        col = [(225, 195, 170), (190, 190, 190), (200, 205, 160)][int(rng.integers(3))]
        for v in np.arange(rng.uniform(0, gap), max(s.Wc, s.Hc), gap):
            cv2.line(img, (int(v * 8), 0), (int(v * 8), s.Hc * 8), col, 1, cv2.LINE_AA, 3)
            cv2.line(img, (0, int(v * 8)), (s.Wc * 8, int(v * 8)), col, 1, cv2.LINE_AA, 3)
    if c["desk"] == "yes":  # one side of the frame shows the desk beyond a slanted paper edge
        i = int(rng.integers(4))
        A, B = s.Q[i], s.Q[(i + 1) % 4]
        centre = s.Q.mean(0)
        u = (B - A) / np.linalg.norm(B - A)
        n = np.array([-u[1], u[0]])
        n = n if (centre - A) @ n > 0 else -n
        dim = s.W if i % 2 else s.H
        A2, B2 = A + n * rng.uniform(0.04, 0.2) * dim, B + n * rng.uniform(0.04, 0.2) * dim
        u = (B2 - A2) / np.linalg.norm(B2 - A2)
        n = np.array([-u[1], u[0]])
        n = n if (centre - A2) @ n > 0 else -n
        L = 5000
        poly = np.array([A2 - L * u, B2 + L * u, B2 + L * u - L * n, A2 - L * u - L * n], np.int32)
        desk = [(50, 90, 140), (40, 40, 45), (110, 112, 118), (195, 198, 200), (70, 110, 95)][int(rng.integers(5))]
        cv2.fillPoly(img, [poly], tuple(float(v) + rng.uniform(-15, 15) for v in desk), cv2.LINE_AA)
        cv2.line(img, tuple(int(v) for v in A2 - L * u), tuple(int(v) for v in B2 + L * u),
                 tuple(float(v) * 0.8 for v in tint), int(rng.integers(1, 4)), cv2.LINE_AA)
        s.paper_line = (A2.astype(np.float32), n.astype(np.float32))
    return img


class Pen:
    """Re-strokes skeletons in one pen's style; the width is a share of each digit's height."""

    def __init__(self, rng, c):
        self.rng, self.kind, self.uneven = rng, c["pen"], c["pressure"] == "uneven"
        self.frac = rng.uniform(*PEN_WIDTH[self.kind])
        self.strength = {"pencil": rng.uniform(0.45, 0.85)}.get(self.kind, rng.uniform(0.85, 1.0))
        ink = np.array(INKS[c["ink"]], np.float32)
        if c["ink"] == "graphite":
            ink = np.full(3, rng.uniform(45, 110), np.float32) + (0, 2, 4)
        self.ink = np.clip(ink + rng.uniform(-15, 15, 3), 0, 255)

    def draw(self, segs: np.ndarray, h: float, slant: float = 0.0, width: float | None = None):
        """segs in units of height -> (alpha patch, ink box x0, y0, x1, y1 inside the patch)."""
        rng = self.rng
        t = np.deg2rad(rng.uniform(-6, 6))
        A = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]) @ np.array([[1, -slant], [0, 1]])
        ss = int(min(4, max(1, np.ceil(60 / h))))  # supersample small digits: sub-pixel pens stay thin
        # a photo shows even the finest line about a pixel wide (optics spread it), hence the floor
        w = max(1.1 if self.kind != "pencil" else 0.9, width if width is not None else self.frac * h) * ss
        thick, gain = max(1, int(round(w))), min(1.0, w)
        p = segs.reshape(-1, 2) @ A.T * (h * ss)
        pad = thick + 2
        p = p - p.min(0) + pad
        cw, ch = (int(v) + pad + 1 for v in np.ceil(p.max(0)))
        cw, ch = -(-cw // ss) * ss, -(-ch // ss) * ss
        q = np.round(p * 8).astype(np.int32).reshape(-1, 2, 2)
        if thick <= 3:
            a = np.zeros((ch, cw), np.uint8)
            cv2.polylines(a, list(q), False, 255, thick, cv2.LINE_AA, 3)
            a = a.astype(np.float32) * (gain * self.strength / 255)
        else:  # wide pens: a round nib swept along the skeleton = distance to it under the nib radius
            a = np.full((ch, cw), 255, np.uint8)
            cv2.polylines(a, list(q), False, 0, 1, cv2.LINE_8, 3)
            d = cv2.distanceTransform(a, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            r = np.float32(w / 2)
            if self.uneven:  # pressure: the stroke swells and thins along the digit
                yy, xx = np.mgrid[0:ch, 0:cw].astype(np.float32)
                dd = rng.normal(size=2) * 3 / max(ch, cw)
                r = r * (0.75 + 0.25 * np.sin(xx * dd[0] + yy * dd[1] + rng.uniform(0, 6.3)))
            a = np.clip(r + 0.5 - d, 0, 1) * np.float32(self.strength)
        if ss > 1:
            a = cv2.resize(a, (cw // ss, ch // ss), interpolation=cv2.INTER_AREA)
        if self.kind == "pencil":  # graphite leaves grain: the paper's tooth shows through
            a *= np.clip(0.7 + 0.3 * _crop_tile(rng, *a.shape), 0.15, 1.0)
        elif self.kind == "ballpoint":
            a *= np.clip(0.92 + 0.08 * _crop_tile(rng, *a.shape), 0.5, 1.0)
        if self.uneven:
            yy, xx = np.mgrid[0:a.shape[0], 0:a.shape[1]]
            d = rng.normal(size=2) * 2.5 / max(a.shape)
            a *= (0.7 + 0.3 * np.sin(xx * d[0] + yy * d[1] + rng.uniform(0, 6.3))).astype(np.float32)
        ys, xs = np.nonzero(a > max(0.1, 0.3 * a.max()))
        return a, ys, xs


def _paste(img: np.ndarray, a: np.ndarray, x: int, y: int, ink: np.ndarray) -> None:
    H, W = img.shape[:2]
    h, w = a.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 <= x0 or y1 <= y0:
        return
    al = a[y0 - y: y1 - y, x0 - x: x1 - x, None]
    r = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = (r * (1 - al) + al * ink + 0.5).astype(np.uint8)


from edge_digits.data.pages.layout import lay_out, add_clutter  # noqa: E402
from edge_digits.data.pages.photo import shoot  # noqa: E402


# A digit counts as truth where the median of its stroke lies LEGIBLE_MIN levels and LEGIBLE_SNR times the
# sensor noise below the paper, in at least one colour channel. Set by eye on sheets of dev pages' digits near
# the line (`python scripts/page_sheet.py MNIST USPS --legibility`): below it almost none can be read.
LEGIBLE_MIN, LEGIBLE_SNR = 12.0, 1.6


def legibility(grey: np.ndarray, box, ink=None) -> tuple[float, float]:
    """(contrast, noise) of a digit in one channel of the frame. The paper level is the local maximum of a blurred copy (a
    cast shadow's edge or a gradient does not count as ink); the noise is the robust spread of the
    high-pass around the box. The contrast is the median darkness below the paper on the digit's own ink
    (ink: its stroke points in frame coordinates), so a ruled line, a scribble or a shadow edge crossing the
    box does not make a vanished digit count as seen; without ink points, the box's darkest pixels."""
    x, y, w, h = (int(v) for v in box)
    H, W = grey.shape
    m = max(4, int(0.3 * max(w, h)))
    x0, y0, x1, y1 = max(0, x - m), max(0, y - m), min(W, x + w + m), min(H, y + h + m)
    g = grey[y0:y1, x0:x1].astype(np.float32)
    if g.size < 16 or w < 1 or h < 1:
        return float("inf"), 0.0
    k = max(3, (max(w, h) // 3) | 1)
    gb = cv2.GaussianBlur(g, (3, 3), 0)
    paper = cv2.dilate(gb, np.ones((k, k), np.uint8))
    hp = g - cv2.GaussianBlur(g, (0, 0), 2.0)
    noise = 1.4826 * float(np.median(np.abs(hp - np.median(hp))))
    if ink is not None and len(ink):
        q = np.rint(np.asarray(ink, np.float32)).astype(int) - (x0, y0)
        q = q[(q[:, 0] >= 0) & (q[:, 1] >= 0) & (q[:, 0] < g.shape[1]) & (q[:, 1] < g.shape[0])]
        if len(q):
            return float(np.median((paper - gb)[q[:, 1], q[:, 0]])), noise
    dark = (paper - g)[y - y0: y - y0 + h, x - x0: x - x0 + w]
    return float(np.percentile(dark, 97)), noise


def legible_score(frame: np.ndarray, box, ink=None) -> float:
    """How far a digit's ink stands out of the paper, in its best colour channel (green ink on grey paper is
    plain to a person though faint in grey), as a share of the line: LEGIBLE_MIN levels and LEGIBLE_SNR times
    the sensor noise below the paper's level beside it (see legibility). 1 or more: legible."""
    planes = cv2.split(frame) if frame.ndim == 3 else [frame]
    return max(c / max(LEGIBLE_MIN, LEGIBLE_SNR * n) for c, n in (legibility(p, box, ink) for p in planes))


# How much of a digit's shape the photo's optics keep, reported beside each digit (Page.legibility) so that
# every figure can be split by how legible the digits were. Not a truth line: motion blur longer than a
# small digit is not always unreadable (`python scripts/page_sheet.py MNIST USPS --legibility shape` shows
# the dev digits around a line; no single value parted the readable from the unreadable by eye).
SHAPE_SIDE = 20  # px: the shape is compared where MNIST draws its digits


def shape_score(box, clean: np.ndarray, optics) -> float:
    """The correlation between a digit's drawn ink (clean: its alpha in frame coordinates, as _clean_ink cuts
    it) and the same put through the photo's blur and resolution alone (photo.shoot's optics: no shadow, ruled
    line or neighbour counts against it), both at the SHAPE_SIDE px scale. 1: the optics kept the shape."""
    w, h = (int(v) for v in box[2:4])
    s = SHAPE_SIDE / max(w, h, 1)
    size = (max(2, round(clean.shape[1] * s)), max(2, round(clean.shape[0] * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    a = cv2.resize(clean, size, interpolation=interp).ravel()
    d = cv2.resize(optics(clean), size, interpolation=interp).ravel()
    if a.std() < 1e-6 or d.std() < 1e-6:
        return 1.0  # nothing to compare (a dot)
    return float(np.corrcoef(a, d)[0, 1])


def _clean_ink(s, a: np.ndarray, x: int, y: int, box) -> np.ndarray:
    """One digit's alpha (canvas patch at x, y) warped into the frame over its box, with room for the blur."""
    bx, by, bw, bh = (int(v) for v in box)
    m = max(16, int(0.2 * max(bw, bh)))
    T = np.array([[1, 0, m - bx], [0, 1, m - by], [0, 0, 1]], np.float64) @ s.M @ \
        np.array([[1, 0, x], [0, 1, y], [0, 0, 1]], np.float64)
    return cv2.warpPerspective(a, T, (bw + 2 * m, bh + 2 * m), flags=cv2.INTER_LINEAR)


def legible(frame: np.ndarray, box, ink=None) -> bool:
    return legible_score(frame, box, ink) >= 1.0


def draw_page(bank, rng, size, ov) -> Page:
    W, H = size
    c = _conditions(rng, ov, H)
    s = Sheet(rng, W, H, c)
    img = _paper(s)
    pen = Pen(rng, c)
    lo, hi = SIZES[c["size"]]
    hi = min(hi or 0.7 * H, LAYOUT_MAX_H[c["layout"]] * H)
    lo = min(lo, hi)
    h0 = float(np.exp(rng.uniform(np.log(lo), np.log(hi + 1e-3))))
    digits, groups = lay_out(s, bank, pen, h0, (lo, hi))  # digits: (alpha, x, y, ys, xs, label)
    if c["clutter"] != "none":
        add_clutter(s, img, pen, h0, groups, digits)
    for a, x, y, _, _, _ in digits:
        _paste(img, a, x, y, pen.ink)
    frame = cv2.warpPerspective(img, s.M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    frame, optics = shoot(frame, rng, c)
    # boxes on each digit's ink after the warp; a digit touching the frame edge is cut: ignore, not truth
    boxes, labels, ignore, index, ink_of, clean_of = [], [], [], {}, [], []
    for k, (a, x, y, ys, xs, lab) in enumerate(digits):
        pts = np.stack([xs + x + 0.5, ys + y + 0.5], 1).astype(np.float32)
        hull = cv2.convexHull(pts).reshape(-1, 2)
        q = s.to_frame(hull)
        lo_, hi_ = np.floor(q.min(0)), np.ceil(q.max(0))
        if lo_[0] >= EDGE and lo_[1] >= EDGE and hi_[0] <= W - EDGE and hi_[1] <= H - EDGE:
            index[k] = len(boxes)
            ink_of.append(s.to_frame(pts[:: max(1, len(pts) // 1500)]))  # the stroke, for legibility
            boxes.append([lo_[0], lo_[1], hi_[0] - lo_[0], hi_[1] - lo_[1]])
            clean_of.append((a, x, y))  # its ink as drawn, for the shape score
            labels.append(lab)
        elif hi_[0] > 0 and hi_[1] > 0 and lo_[0] < W and lo_[1] < H:
            lo_, hi_ = np.maximum(lo_, 0), np.minimum(hi_, (W, H))
            ignore.append([lo_[0], lo_[1], hi_[0] - lo_[0], hi_[1] - lo_[1]])
    b = np.array(boxes, int).reshape(-1, 4)
    # A digit the photo left illegible (a hard pencil under glare and motion blur can vanish into the
    # paper) is no fair ground truth: it and the rest of its number go to ignore, neither right nor wrong.
    contrast = [legible_score(frame, b[i], ink_of[i]) for i in range(len(b))]
    gone = {i for i in range(len(b)) if contrast[i] < 1.0}
    for g in groups:
        if any(index.get(k) in gone for k in g):
            for k in g:
                if k in index:
                    ignore.append(list(b[index.pop(k)]))
    keep = sorted(index.values())
    renum = {old: new for new, old in enumerate(keep)}
    index = {k: renum[v] for k, v in index.items()}
    legibility = np.array([[contrast[i], shape_score(b[i], _clean_ink(s, *clean_of[i], b[i]), optics)] for i in keep],
                          np.float32).reshape(-1, 2)
    b, labels = b[keep].reshape(-1, 4), [labels[i] for i in keep]
    numbers = []
    for g in groups:
        m = [index[k] for k in g if k in index]
        if m:
            bb = b[m]
            x0, y0 = bb[:, :2].min(0)
            x1, y1 = (bb[:, :2] + bb[:, 2:]).max(0)
            numbers.append(Number("".join(str(labels[i]) for i in m), (int(x0), int(y0), int(x1 - x0), int(y1 - y0)), m))
    numbers.sort(key=lambda n: (n.box[1], n.box[0]))
    c["cut"] = "yes" if ignore else "no"
    return Page(frame, b, np.array(labels, np.uint8), numbers, np.array(ignore, int).reshape(-1, 4),
                {k: c[k] for k in CONDITIONS}, legibility)
