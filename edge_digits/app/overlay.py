"""What the camera window shows, drawn without a display (frame + result -> image): boxes, labels and
confidences placed so that neighbours' labels do not overlap, a box around each number with its text, FPS and
per-stage milliseconds, the readings, a PAUSED banner, and the debug view of the ink mask beside a labelled
grid of the 28x28 crops the classifier saw. Text scales with the frame's height and sits on a filled
background, so it stays legible on any paper and at any size."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edge_digits.vision import pipeline as vision

FONT = cv2.FONT_HERSHEY_SIMPLEX
BOX = (60, 200, 0)        # digit boxes (BGR)
NUMBER = (230, 120, 0)    # number boxes
TAG = (30, 30, 30)        # label backgrounds
TEXT = (255, 255, 255)
LOW = (0, 170, 255)       # a label the model is unsure of (< 0.9)
BAND = (25, 25, 25)       # header and readings bands

Rect = tuple[int, int, int, int]  # x, y, w, h


@dataclass
class Style:
    """Font scale, thickness and spacing for a frame of a given height: a 480-line frame gets 0.6 (13-pixel
    capitals), and everything grows with the frame, so it reads the same once the window is scaled to fit."""
    height: int
    scale: float = field(init=False)
    thick: int = field(init=False)
    pad: int = field(init=False)

    def __post_init__(self):
        self.scale = max(0.4, self.height / 800)
        self.thick = max(1, round(self.scale * 2))
        self.pad = max(2, round(self.scale * 5))

    def size(self, text: str, scale: float | None = None) -> tuple[int, int, int]:
        """(width, height, baseline) of text at this style (or at `scale` times the style's size)."""
        s = self.scale * (scale or 1.0)
        (w, h), base = cv2.getTextSize(text, FONT, s, self.thick)
        return w, h, base


def _tag(img: np.ndarray, text: str, x: int, y: int, st: Style, color=TEXT, bg=TAG, scale: float = 1.0) -> Rect:
    """Text with its top-left corner at (x, y) on a filled background; the background's rectangle."""
    w, h, base = st.size(text, scale)
    p = st.pad
    cv2.rectangle(img, (x, y), (x + w + 2 * p, y + h + base + 2 * p), bg, -1)
    cv2.putText(img, text, (x + p, y + p + h), FONT, st.scale * scale, color, st.thick, cv2.LINE_AA)
    return x, y, w + 2 * p, h + base + 2 * p


def tag_size(text: str, st: Style, scale: float = 1.0) -> tuple[int, int]:
    w, h, base = st.size(text, scale)
    return w + 2 * st.pad, h + base + 2 * st.pad


def overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def place(box: Rect, size: tuple[int, int], taken: list[Rect], frame: tuple[int, int], gap: int = 2) -> Rect:
    """Where a label of `size` goes for `box`, greedily: above the box, else below, else inside, each
    left-aligned, then right-aligned with the box; the first spot inside the frame that meets no rectangle of
    `taken`. When every spot is taken the label is stacked further above (then below) until it is free."""
    x, y, w, h = box
    lw, lh = size
    fw, fh = frame
    xs = [x, x + w - lw]
    spots = [(sx, y - lh - gap) for sx in xs] + [(sx, y + h + gap) for sx in xs] + [(x + gap, y + gap)]
    for k in range(1, 1 + fh // max(lh, 1)):  # the fallbacks: higher, then lower
        spots += [(x, y - lh - gap - k * (lh + gap)), (x, y + h + gap + k * (lh + gap))]
    for sx, sy in spots:
        sx = min(max(sx, 0), max(fw - lw, 0))
        r = (sx, sy, lw, lh)
        if sy >= 0 and sy + lh <= fh and not any(overlaps(r, t) for t in taken):
            return r
    return min(max(x, 0), max(fw - lw, 0)), min(max(y - lh - gap, 0), max(fh - lh, 0)), lw, lh


def _fit(texts: list[str], width: int, st: Style, scale: float) -> list[str]:
    """Word-wrap each text to the width."""
    lines = []
    for text in texts:
        line = ""
        for word in text.split(" "):
            trial = f"{line} {word}" if line else word
            if line and tag_size(trial, st, scale)[0] > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


@dataclass
class Drawn:
    """Where draw() put things: the label rectangles of the digits (in result.digits order), the number
    boxes and their labels, and the header and readings bands."""
    labels: list[Rect] = field(default_factory=list)
    number_boxes: list[Rect] = field(default_factory=list)
    number_labels: list[Rect] = field(default_factory=list)
    bands: list[Rect] = field(default_factory=list)
    style: Style | None = None


SHORT = {"capture": "cap", "detect": "det", "normalize": "norm", "classify": "cls", "fit": "fit"}


def draw(frame: np.ndarray, result: vision.FrameResult, fps: float, ms: dict, status: str = "",
         layout: Drawn | None = None) -> np.ndarray:
    """The frame with the result drawn on it (a copy, the same size). `status` is added to the header (e.g.
    "playing at 12 fps"); pass a Drawn as `layout` to learn where the labels went."""
    out = frame.copy() if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    fh, fw = out.shape[:2]
    st = Style(fh)
    lay = layout if layout is not None else Drawn()
    lay.style = st

    # header: speed and stages, wrapped to the width, on a band across the top
    total = ms.get("total", sum(v for k, v in ms.items()))
    stages = " ".join(f"{SHORT.get(k, k)} {v:.1f}" for k, v in ms.items() if k != "total")
    head = [f"{fps:.0f} fps  {total:.1f} ms/frame" + (f"  {status}" if status else ""), f"ms: {stages}"]
    small = 0.8
    lines = _fit(head, fw - 2 * st.pad, st, small)
    lh = tag_size("Ag", st, small)[1]
    band = (0, 0, fw, lh * len(lines))
    _shade(out, band)
    for i, text in enumerate(lines):
        _text(out, text, 0, i * lh, st, small)
    lay.bands.append(band)

    # readings: bigger, on a band across the bottom
    reads = "reads: " + (" ".join(result.readings) if result.readings else "-")
    big = 1.3
    rlines = _fit([reads], fw - 2 * st.pad, st, big)
    rh = tag_size("Ag", st, big)[1]
    rband = (0, fh - rh * len(rlines), fw, rh * len(rlines))
    _shade(out, rband)
    for i, text in enumerate(rlines):
        _text(out, text, 0, rband[1] + i * rh, st, big)
    lay.bands.append(rband)

    # boxes first, then every label on top of all boxes
    taken: list[Rect] = [band, rband]
    numbers = [n for n in result.numbers if len(n.digits) > 1]
    npad = max(3, st.pad)
    for n in numbers:
        x, y, w, h = n.box
        r = (x - npad, y - npad, w + 2 * npad, h + 2 * npad)
        cv2.rectangle(out, (r[0], r[1]), (r[0] + r[2], r[1] + r[3]), NUMBER, st.thick)
        lay.number_boxes.append(r)
    for d in result.digits:
        x, y, w, h = d.box
        cv2.rectangle(out, (x, y), (x + w, y + h), BOX, st.thick)
    # number labels first (below their box, where digit labels do not go first), then digit labels
    for n, r in zip(numbers, lay.number_boxes):
        size = tag_size(n.text, st)
        spot = _place_below(r, size, taken, (fw, fh))
        taken.append(spot)
        lay.number_labels.append(spot)
        _tag(out, n.text, spot[0], spot[1], st, bg=NUMBER)
    others = [d.box for d in result.digits]
    for i, d in enumerate(result.digits):
        text = f"{d.label} {d.confidence:.2f}".replace("0.", ".").replace("1.00", "1.0")
        size = tag_size(text, st)
        spot = place(d.box, size, taken + [b for j, b in enumerate(others) if j != i], (fw, fh))
        taken.append(spot)
        lay.labels.append(spot)
        _tag(out, text, spot[0], spot[1], st, color=TEXT if d.confidence >= 0.9 else LOW)
    return out


def _place_below(box: Rect, size: tuple[int, int], taken: list[Rect], frame: tuple[int, int]) -> Rect:
    """A number's label: below its box, else above, else wherever place() finds room."""
    x, y, w, h = box
    for sy in (y + h + 1, y - size[1] - 1):
        sx = min(max(x, 0), max(frame[0] - size[0], 0))
        r = (sx, sy, *size)
        if sy >= 0 and sy + size[1] <= frame[1] and not any(overlaps(r, t) for t in taken):
            return r
    return place(box, size, taken, frame)


def _shade(img: np.ndarray, r: Rect, alpha: float = 0.75) -> None:
    x, y, w, h = r
    roi = img[max(y, 0):y + h, max(x, 0):x + w]
    roi[:] = (roi * (1 - alpha) + np.array(BAND) * alpha).astype(np.uint8)


def _text(img: np.ndarray, text: str, x: int, y: int, st: Style, scale: float = 1.0, color=TEXT) -> None:
    w, h, base = st.size(text, scale)
    cv2.putText(img, text, (x + st.pad, y + st.pad + h), FONT, st.scale * scale, color, st.thick, cv2.LINE_AA)


def banner(img: np.ndarray, text: str, sub: str = "", width: int | None = None) -> np.ndarray:
    """A copy of img with a big banner (e.g. PAUSED) and a smaller line under it, centred on the first
    `width` columns (default: all)."""
    out = img.copy()
    fh, fw = out.shape[0], min(width or out.shape[1], out.shape[1])
    st = Style(fh)
    big = 2.5
    w, h = tag_size(text, st, big)
    sw, sh = tag_size(sub, st) if sub else (0, 0)
    bw, bh = max(w, sw) + 4 * st.pad, h + sh + 2 * st.pad
    x0, y0 = (fw - bw) // 2, (fh - bh) // 2
    _shade(out, (x0, y0, bw, bh), 0.85)
    cv2.rectangle(out, (x0, y0), (x0 + bw, y0 + bh), (0, 200, 255), st.thick)
    _text(out, text, (fw - w) // 2, y0 + st.pad, st, big, color=(0, 220, 255))
    if sub:
        _text(out, sub, (fw - sw) // 2, y0 + st.pad + h, st)
    return out


def debug_view(result: vision.FrameResult, height: int) -> np.ndarray:
    """What the detector and the classifier saw, `height` pixels high, to go beside the frame: the ink mask
    scaled to that height, and a grid of the 28x28 crops upscaled (nearest neighbour, so pixels stay
    pixels), each captioned with the model's label and confidence."""
    st = Style(height)
    mask = result.detections.mask
    mw = max(1, round(mask.shape[1] * height / mask.shape[0]))
    mask = cv2.cvtColor(cv2.resize(mask, (mw, height), interpolation=cv2.INTER_NEAREST), cv2.COLOR_GRAY2BGR)
    title_h = tag_size("Ag", st, 0.8)[1]
    _tag(mask, "centre heatmap" if hasattr(result.detections, "scores") else "ink mask", 0, 0, st, scale=0.8)

    crops = result.normalized if result.normalized is not None else np.zeros((0, 28, 28), np.uint8)
    probs = result.probs if result.probs is not None and len(result.probs) == len(crops) else None
    n = len(crops)
    cap_h = tag_size("Ag", st, 0.9)[1]
    avail = height - title_h - st.pad
    # the biggest upscale (8x down to 2x) at which every crop fits in at most `avail` pixels high and as
    # many columns as it takes, no wider than the frame is high
    for k in range(max(2, round(8 * height / 480)), 1, -1):
        cell_w, cell_h = 28 * k + st.pad, 28 * k + cap_h + st.pad
        rows = max(1, avail // cell_h)
        cols = max(1, -(-n // rows))
        if cols * cell_w <= height:
            break
    rows = max(1, min(rows, n)) if n else 1
    cols = max(1, -(-n // rows)) if n else 1
    width = max(cols * cell_w + st.pad, tag_size("classifier input", st, 0.8)[0])
    grid = np.full((height, width, 3), 40, np.uint8)
    _tag(grid, "classifier input", 0, 0, st, scale=0.8)
    for i in range(n):
        r, c = i % rows, i // rows
        x, y = st.pad + c * cell_w, title_h + st.pad + r * cell_h
        if y + cell_h > height:
            continue
        tile = cv2.resize(crops[i], (28 * k, 28 * k), interpolation=cv2.INTER_NEAREST)
        grid[y:y + 28 * k, x:x + 28 * k] = tile[..., None]
        if probs is not None:
            label, conf = int(probs[i].argmax()), float(probs[i].max())
            _text(grid, f"{label} {conf:.2f}", x - st.pad, y + 28 * k - st.pad // 2, st, 0.9,
                  color=TEXT if conf >= 0.9 else LOW)
    if not n:
        _text(grid, "no crops", 0, title_h + st.pad, st)
    return np.hstack([mask, grid])
