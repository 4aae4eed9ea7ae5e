"""Photo-like pages of real handwritten digits (MNIST, USPS) under real photo conditions, with ground truth.

Every digit is re-stroked: its thresholded image is thinned to a skeleton once (cached), and the skeleton
is drawn again with a pen of the page's kind (hard pencil to marker, 1-15% of the digit height). Digits are
laid out as scattered singles, rows of numbers, columns, tables or keypads, next to strokes that are no
digit, on plain/ruled/squared paper of some tint, sometimes with the desk showing. The page is then seen by
a camera: rotation and perspective, light (cast shadows, gradients, vignetting, glare), blur, low
resolution, sensor noise and JPEG. Ground-truth boxes are measured on each digit's ink after the warp; a
digit cut by the frame edge goes to `ignore`. One seeded generator drives it all: same bank + seed, same
pages byte for byte. Depends only on numpy and cv2.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CONDITIONS: dict[str, list[str]] = {
    "pen": ["pencil", "ballpoint", "fineliner", "felt", "marker"],
    "ink": ["black", "blue", "red", "green", "graphite"],
    "pressure": ["even", "uneven"],
    "size": ["tiny", "small", "medium", "large", "mixed"],
    "layout": ["scattered", "row", "column", "table", "keypad"],
    "clutter": ["none", "marks", "scribbles"],
    "light": ["even", "gradient", "vignette", "hard-shadow", "soft-shadow", "glare"],
    "paper": ["plain", "ruled", "squared"],
    "tint": ["white", "cream", "yellow", "grey", "recycled"],
    "desk": ["no", "yes"],
    "geometry": ["flat", "rotated", "perspective"],
    "blur": ["none", "gaussian", "motion"],
    "resolution": ["full", "low"],
    "noise": ["low", "high"],
    "jpeg": ["none", "high", "low"],
    "cut": ["no", "yes"],
}
# digit height in frame pixels per size value; "large" runs to 70% of the frame height. "mixed": each digit
# or number on the page draws its own height from the whole range (a heading over small notes). Pages of one
# size class only taught the detector a page-level prior: a 30 px digit next to 70 px ones got a third of
# the heat it gets alone (the old generator's pages, data.synth, mix sizes; benchmarks/camera.md's notes).
SIZES = {"tiny": (12, 20), "small": (20, 40), "medium": (40, 90), "large": (90, None), "mixed": (12, None)}
# the tallest digit each layout fits, as a share of the frame height
LAYOUT_MAX_H = {"scattered": 0.7, "row": 0.7, "column": 0.3, "table": 0.22, "keypad": 0.17}
PEN_WIDTH = {"pencil": (0.01, 0.05), "ballpoint": (0.02, 0.05), "fineliner": (0.03, 0.07),
             "felt": (0.06, 0.11), "marker": (0.10, 0.15)}  # stroke width / digit height
INKS = {"black": (25, 22, 20), "blue": (150, 50, 25), "red": (45, 40, 185), "green": (50, 120, 35),
        "graphite": (80, 78, 75)}  # BGR
TINTS = {"white": (246, 247, 248), "cream": (215, 236, 246), "yellow": (150, 228, 248), "grey": (200, 202, 204),
         "recycled": (185, 200, 210)}
FRAMES = [((640, 480), 0.55), ((480, 640), 0.12), ((800, 600), 0.1), ((1280, 720), 0.1), ((320, 240), 0.13)]
EDGE = 2  # px: ink this close to the frame edge is cut by it


@dataclass
class Number:
    text: str
    box: tuple[int, int, int, int]
    digits: list[int]


@dataclass
class Page:
    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    numbers: list[Number]
    ignore: np.ndarray
    conditions: dict[str, str]
    # per true digit: (contrast, shape), render.legible_score and render.shape_score; None on other generators
    legibility: np.ndarray | None = None


def _zs_luts() -> tuple[np.ndarray, np.ndarray]:
    """Zhang-Suen deletion rules for both sub-steps as lookup tables over the 8-neighbour code."""
    luts = [np.zeros(256, np.uint8), np.zeros(256, np.uint8)]
    for code in range(256):
        n = [(code >> i) & 1 for i in range(8)]  # P2, P3, ..., P9 clockwise from north
        nb = sum(n)
        trans = sum(n[i] == 0 and n[(i + 1) % 8] == 1 for i in range(8))
        if 2 <= nb <= 6 and trans == 1:
            luts[0][code] = n[0] * n[2] * n[4] == 0 and n[2] * n[4] * n[6] == 0
            luts[1][code] = n[0] * n[2] * n[6] == 0 and n[0] * n[4] * n[6] == 0
    return luts[0], luts[1]


_LUTS = _zs_luts()
# weights of the neighbours P2..P9 (N, NE, E, SE, S, SW, W, NW), as a correlation kernel
_CODE = np.array([[128, 1, 2], [64, 0, 4], [32, 16, 8]], np.float32)


def _thin(b: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a bool image by lookup tables (cv2.ximgproc is not available)."""
    img = np.pad(b.astype(np.uint8), 1)
    while True:
        changed = False
        for lut in _LUTS:
            code = cv2.filter2D(img.astype(np.float32), -1, _CODE, borderType=cv2.BORDER_CONSTANT).astype(np.uint8)
            m = (lut[code] == 1) & (img == 1)
            if m.any():
                img[m] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def _strokes(crop: np.ndarray) -> np.ndarray:
    """The skeleton of one ink-cropped digit as segments (K, 2, 2), x and y in units of the digit height."""
    hc = 48  # canonical height: big enough for a clean skeleton, small enough to be quick
    s = hc / crop.shape[0]
    g = cv2.resize(crop, (max(2, round(crop.shape[1] * s)), hc), interpolation=cv2.INTER_CUBIC)
    b = np.pad(g > 0.45 * g.max(), 2)
    sk = _thin(b).astype(np.float32)
    # smooth the pixel staircase: each skeleton pixel moves to the mean of its skeleton neighbours
    yy, xx = np.mgrid[0:sk.shape[0], 0:sk.shape[1]].astype(np.float32)
    for k in (3, 5):
        cnt = cv2.boxFilter(sk, -1, (k, k), normalize=False)
        mx = cv2.boxFilter(sk * xx, -1, (k, k), normalize=False) / np.maximum(cnt, 1)
        my = cv2.boxFilter(sk * yy, -1, (k, k), normalize=False) / np.maximum(cnt, 1)
        xx, yy = np.where(sk > 0, mx, xx), np.where(sk > 0, my, yy)
    on = sk > 0
    segs = []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):  # 8-connected neighbour pairs, each once
        a = on[: on.shape[0] - dy, max(0, -dx): on.shape[1] - max(0, dx)]
        bb = on[dy:, max(0, dx): on.shape[1] - max(0, -dx) if dx < 0 else on.shape[1]]
        ys, xs = np.nonzero(a & bb)
        xs = xs + max(0, -dx)
        p = np.stack([xx[ys, xs], yy[ys, xs]], 1)
        q = np.stack([xx[ys + dy, xs + dx], yy[ys + dy, xs + dx]], 1)
        segs.append(np.stack([p, q], 1))
    segs = np.concatenate(segs) if segs else np.zeros((0, 2, 2), np.float32)
    if len(segs) == 0:  # a dot: one short stroke
        ys, xs = np.nonzero(on)
        segs = np.array([[[xs.mean(), ys.mean()], [xs.mean() + 1, ys.mean()]]], np.float32)
    segs -= segs.reshape(-1, 2).min(0)
    return (segs / max(np.ptp(segs[..., 1]), 1.0)).astype(np.float32)


class DigitBank:
    """Handwritten digits cropped to their ink (uint8, ink high), with labels and source names."""

    def __init__(self, crops: list[np.ndarray], labels: np.ndarray, sources: list[str]):
        self.crops, self.labels, self.sources = crops, np.asarray(labels, np.uint8), sources
        self.by_label = [np.flatnonzero(self.labels == d) for d in range(10)]
        self._segs: dict[int, np.ndarray] = {}

    @classmethod
    def from_arrays(cls, *sets: tuple[np.ndarray, np.ndarray]) -> "DigitBank":
        crops, labels, sources = [], [], []
        for k, (x, y) in enumerate(sets):
            for img, lab in zip(x, y):
                ys, xs = np.nonzero(img > 40)
                if len(ys) < 4:
                    continue  # an empty sample would have no skeleton
                crops.append(img[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1])
                labels.append(int(lab))
                sources.append(f"set{k}:{img.shape[0]}x{img.shape[1]}")
        return cls(crops, np.array(labels), sources)

    def strokes(self, i: int) -> np.ndarray:
        if i not in self._segs:  # skeletons are computed when first drawn: a bank builds in no time
            self._segs[i] = _strokes(self.crops[i].astype(np.float32))
        return self._segs[i]

    def pick(self, rng, label: int | None = None) -> int:
        if label is None:
            return int(rng.integers(len(self.labels)))
        return int(rng.choice(self.by_label[label]))


SPLITS = {
    "train": {"mnist": ("x_train", 0, 50000), "usps": ("x_train", 0, 6000), "seed": 1_000_000},
    "dev": {"mnist": ("x_train", 50000, 60000), "usps": ("x_train", 6000, 7291), "seed": 2_000_000},
    "bench": {"mnist": ("x_test", 0, 10000), "usps": ("x_test", 0, 2007), "seed": 3_000_000},
}  # digit pools never shared between splits; "seed" is the first page seed of the split


def banks(mnist_npz_path: str, usps_npz_path: str, split: str) -> DigitBank:
    sets = []
    for name, path in (("mnist", mnist_npz_path), ("usps", usps_npz_path)):
        key, lo, hi = SPLITS[split][name]
        d = np.load(path)
        sets.append((d[key][lo:hi], d[key.replace("x", "y")][lo:hi]))
    return DigitBank.from_arrays(*sets)


_TILE: list[np.ndarray] = []


def _tile() -> np.ndarray:
    """A fixed smooth-noise texture (paper, pencil grain, pressure), cropped at random offsets."""
    if not _TILE:
        t = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
        t = cv2.GaussianBlur(t, (0, 0), 1.2)
        _TILE.append(t / t.std())
        _TILE.append(np.random.default_rng(1).standard_normal((1024, 3 * 1024)).astype(np.float32))
    return _TILE[0]


def _crop_tile(rng, h: int, w: int, raw: bool = False) -> np.ndarray:
    """A crop of the smooth texture, or with raw=True of white noise (sensor noise, fast and seeded)."""
    t = _tile() if not raw else (_tile(), _TILE[1])[1]
    reps = (-(-h // t.shape[0]), -(-w // t.shape[1]))
    if reps != (1, 1):
        t = np.tile(t, reps)
    y, x = int(rng.integers(t.shape[0] - h + 1)), int(rng.integers(t.shape[1] - w + 1))
    return t[y: y + h, x: x + w]


def make_page(bank: DigitBank, rng: np.random.Generator, size: tuple[int, int] | None = None, **overrides) -> Page:
    """One page; size is the frame (W, H), or None to draw one; overrides force condition values, e.g.
    pen="pencil". The condition "size" clashes with the frame argument: size="small" (a string) forces the
    digit size with a drawn frame, and digit_size="small" forces it together with a frame (W, H)."""
    overrides = dict(overrides)
    if isinstance(size, str):
        overrides["size"], size = size, None
    if "digit_size" in overrides:
        overrides["size"] = overrides.pop("digit_size")
    for k, v in overrides.items():
        if k not in CONDITIONS or v not in CONDITIONS[k]:
            raise ValueError(f"unknown condition {k}={v!r}")
    if size is None:
        i = rng.choice(len(FRAMES), p=[p for _, p in FRAMES])
        size = FRAMES[int(i)][0]
    from edge_digits.data.pages.render import draw_page  # the page pipeline, a module of its own to keep both short

    return draw_page(bank, rng, tuple(size), overrides)


def make_pages(bank: DigitBank, n: int, seed: int, **kw) -> list[Page]:
    """n pages, page i drawn from seed + i alone, so any page can be made again (or in parallel) by itself."""
    return [make_page(bank, np.random.default_rng(seed + i), **kw) for i in range(n)]
