"""Find, normalize and read handwritten digits in a camera frame. Pure functions: no camera, no window.

    result = read_frame(frame_bgr, runner)          # runner from edge_digits.runtimes.load()
    result.digits -> [Digit(box=(x, y, w, h), label=7, confidence=0.998)], result.readings -> ["2026"]

The pipeline: ink mask against a local paper-white estimate, long strokes (ruled lines, page edges)
removed, outer contours merged into digits (edge_digits.blobs), a blob too wide for one digit also offered
cut in two, each digit redrawn the way MNIST was made, all classified in one batch.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from .blobs import SPLIT_ASPECT, choose, long_runs, merge, near_pairs, split
from .config import MIN_CONFIDENCE

MAX_SIDE = 1024  # larger frames are shrunk first: a phone photo has far more pixels than a digit needs
INK_RATIO = 0.26  # ink is at least this much darker than the local paper; faint ruled lines are not
# A second look for small digits in faint ink, of which that threshold keeps only specks: blobs up to
# FAINT_MIN_H to FAINT_MAX_H working pixels tall in the ink at this lower threshold, offered where nothing
# else was found (lower, the faint ink's noise makes blobs of that size)
FAINT_RATIO, FAINT_MIN_H, FAINT_MAX_H = 0.18, 12, 32
INK_MIN = 18  # grey levels: below this a darker pixel is sensor noise, even in deep shadow
MIN_HEIGHT = 10  # working pixels: smaller blobs are specks (the issue asks for digits from about 15 px)
STROKE_TARGET = 4.0  # stroke width of MNIST digits at the 40 px working scale of normalize_crop (median)
BOX, CANVAS = 20, 28  # MNIST: each digit fit into 20x20, centred by mass in 28x28
MAX_BLOBS = 300  # candidate blobs a frame, the biggest first: a page never has more, noise and texture do


@dataclass
class Digit:
    box: tuple[int, int, int, int]  # x, y, w, h in source-frame pixels
    label: int
    confidence: float
    track: int | None = None
    probs: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        d = {"box": [int(v) for v in self.box], "label": int(self.label), "confidence": round(float(self.confidence), 4)}
        if self.track is not None:
            d["track"] = self.track
        return d


@dataclass
class Detections:
    boxes: list[tuple[int, int, int, int]]  # source-frame pixels
    crops: list[np.ndarray]  # ink-high uint8 grey crop of each box (this digit's pixels only), working scale
    mask: np.ndarray  # the ink mask after line removal, working scale (for the debug view)
    scale: float  # source pixels per working pixel
    # (whole, left, right) indices into boxes: a wide blob that may be two touching digits, given both
    # ways; read_frame keeps whichever reading the model is surer of
    splits: list[tuple[int, int, int]] = field(default_factory=list)
    # (whole, part, ...): a candidate offered instead of the candidates it covers (maybe none): two near
    # groups the merge left apart, joined (a piece of a digit alone reads as some other digit), or a
    # faint small digit seen at the lower threshold. read_frame keeps the whole when the model is surer
    # of it than of every part
    joins: list[tuple[int, ...]] = field(default_factory=list)
    faint: list[int] = field(default_factory=list)  # candidates of the second look, in the faint ink


@dataclass
class FrameResult:
    digits: list[Digit]
    readings: list[str]
    ms: dict[str, float]
    detections: Detections | None = None
    normalized: np.ndarray | None = None  # (N, 28, 28) what the classifier saw, for the debug view
    rejected: int = 0  # blobs that looked unlike any digit or scored under min_confidence
    probs: np.ndarray | None = field(default=None, repr=False)


def ink_mask(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels clearly darker than the paper around them, and (for the second look) faintly darker. The paper's white level is estimated on a 1/8
    frame: a max filter wider than any stroke erases the ink, so shadows and gradients divide out while
    the inside of a thick marker digit still counts as ink (a local-mean adaptive threshold loses it).
    Returns the mask, the faint mask and the paper level."""
    H, W = gray.shape
    sw, sh = max(8, W // 8), max(8, H // 8)
    small = cv2.resize(gray, (sw, sh), interpolation=cv2.INTER_AREA)
    k = max(3, int(min(sw, sh) * 0.15)) | 1
    small = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    small = cv2.blur(small, (k, k))
    paper = cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR)
    darker = cv2.subtract(paper, cv2.GaussianBlur(gray, (3, 3), 0))  # blurred against noise for the mask
    need = cv2.max(cv2.convertScaleAbs(paper, alpha=INK_RATIO), INK_MIN)
    faint = cv2.max(cv2.convertScaleAbs(paper, alpha=FAINT_RATIO), INK_MIN)
    return cv2.compare(darker, need, cv2.CMP_GT), cv2.compare(darker, faint, cv2.CMP_GT), paper


def find_digits(frame: np.ndarray, pieces: bool = False) -> Detections:
    """Boxes and ink crops of everything in a BGR (or grey) frame that could be a digit. With pieces=True
    each piece of a group is also given alone: what a digit looks like when the merge misses a part,
    for training the model to tell it from a whole digit (edge_digits.camera_data)."""
    if frame.ndim == 3:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    else:
        gray = frame
    scale = max(1.0, max(gray.shape) / MAX_SIDE)
    if scale > 1:
        gray = cv2.resize(gray, (round(gray.shape[1] / scale), round(gray.shape[0] / scale)),
                          interpolation=cv2.INTER_AREA)
    H, W = gray.shape
    if min(H, W) < 2 * MIN_HEIGHT:  # too small to hold a digit and its margin
        return Detections([], [], np.zeros((H, W), np.uint8), scale)
    mask, faint, paper = ink_mask(gray)
    if cv2.countNonZero(mask) > 0.3 * H * W:  # noise or texture, not ink on paper
        return Detections([], [], mask, scale)
    # one direction after the other: where a margin line crosses a ruled line, each looks thick to the
    # other, and the crossing would stay behind
    quarter = cv2.resize(mask, (max(1, W // 4), max(1, H // 4)), interpolation=cv2.INTER_AREA)
    ruled = long_runs(mask, quarter, True)
    clean = cv2.subtract(mask, ruled)
    if cv2.countNonZero(ruled):
        # the vertical search needs the ruled lines gone: stacked close, they would pass for one tall stroke
        quarter = cv2.resize(clean, (max(1, W // 4), max(1, H // 4)), interpolation=cv2.INTER_AREA)
    clean = cv2.subtract(clean, long_runs(clean, quarter, False))
    lines = cv2.subtract(mask, clean)
    main = _blobs(clean)

    def cut_out(members, src=main):
        """The box and ink crop of one group of contours, or None where it cannot be a whole digit."""
        contours, rects, clean = src
        r = rects[members]
        x0, y0 = r[:, 0].min(), r[:, 1].min()
        x1, y1 = (r[:, 0] + r[:, 2]).max(), (r[:, 1] + r[:, 3]).max()
        w, h = x1 - x0, y1 - y0
        if h < MIN_HEIGHT or h > 0.95 * H or w > 2.0 * h:
            return None
        if x0 <= 0 or y0 <= 0 or x1 >= W or y1 >= H:
            return None  # cut by the frame edge: half a digit reads as another digit
        own = np.zeros((h, w), np.uint8)
        cv2.drawContours(own, [contours[i] for i in members], -1, 255, -1, offset=(-int(x0), -int(y0)))
        crop = cv2.bitwise_and(clean[y0:y1, x0:x1], own)
        # give back the pixels a removed line took out of this digit's strokes
        cut = lines[y0:y1, x0:x1]
        if cut.any():
            k = max(3, h // 10) | 1
            bridged = cv2.bitwise_or(cv2.morphologyEx(crop, cv2.MORPH_CLOSE, np.ones((k, 1), np.uint8)),
                                     cv2.morphologyEx(crop, cv2.MORPH_CLOSE, np.ones((1, k), np.uint8)))
            crop = cv2.bitwise_or(crop, cv2.bitwise_and(cut, bridged))
            cut = cv2.subtract(cut, crop)
        fill = cv2.countNonZero(crop) / float(w * h)
        if fill < 0.06 or (fill > 0.9 and w > 0.4 * h):
            return None  # a wisp or a solid blot
        # The crop keeps the grey levels, not the binary mask: a 15 px digit has no detail to spare. Ink
        # 75% darker than the paper counts as full ink; the soft rim just outside the mask comes along.
        rim = cv2.subtract(cv2.dilate(crop, np.ones((3, 3), np.uint8)), cut)
        p = paper[y0:y1, x0:x1]
        ink = cv2.divide(cv2.subtract(p, gray[y0:y1, x0:x1]), p, scale=255 / 0.75)
        return (x0, y0, w, h), crop, cv2.bitwise_and(ink, rim)

    def add(x0, y0, w, h, crop):
        boxes.append((int(x0 * scale), int(y0 * scale), max(1, round(w * scale)), max(1, round(h * scale))))
        crops.append(crop)
        return len(boxes) - 1

    boxes, crops, splits, joins = [], [], [], []
    rects = main[1]
    groups = merge(rects, (W, H))
    kept = {}  # group number -> index into boxes
    for n, members in enumerate(groups):
        got = cut_out(members)
        if got is None:
            continue
        (x0, y0, w, h), crop, ink = got
        kept[n] = add(x0, y0, w, h, ink)
        if pieces and len(members) > 1:
            for m in members:
                got = cut_out(m[None])
                if got is not None:
                    add(*got[0], got[2])
        if w > SPLIT_ASPECT * h:
            halves = split(crop)
            if halves:
                splits.append((kept[n], len(boxes), len(boxes) + 1))
                for hx, hy, hw, hh in halves:
                    add(x0 + hx, y0 + hy, hw, hh, ink[hy: hy + hh, hx: hx + hw])
    gb = _union_boxes(rects, groups)
    for a, b in near_pairs(gb):
        got = cut_out(np.concatenate([groups[a], groups[b]]))
        if got is not None and got[0][2] <= SPLIT_ASPECT * got[0][3]:
            joins.append((add(*got[0], got[2]), *(kept[n] for n in (a, b) if n in kept)))
    # The second look: small blobs in the faint ink, away from the lines found above (and their faint rim),
    # that no candidate already fits. Each is offered instead of the candidates it covers, if any.
    contours, r, fmask = _blobs(cv2.subtract(faint, cv2.dilate(lines, np.ones((3, 3), np.uint8))))
    fit = np.flatnonzero((r[:, 3] <= FAINT_MAX_H) & (r[:, 2] <= 2 * FAINT_MAX_H))
    # thin blobs stacked in one column: a faint margin line the ruled lines cut into dashes, not 1s
    thin = r[:, 2] <= np.maximum(3, 0.4 * r[:, 3])
    cx = r[:, 0] + r[:, 2] / 2
    t = fit[thin[fit]]
    column = np.zeros(len(r), bool)
    column[t] = (np.abs(cx[t, None] - cx[None, thin]) <= 5).sum(1) >= 2
    # most faint blobs are digits found already, or pieces of them: only the rest go on
    f, mb = r[fit], gb[list(kept)]
    ix = np.minimum(f[:, None, 0] + f[:, None, 2], mb[None, :, 2]) - np.maximum(f[:, None, 0], mb[None, :, 0])
    iy = np.minimum(f[:, None, 1] + f[:, None, 3], mb[None, :, 3]) - np.maximum(f[:, None, 1], mb[None, :, 1])
    inside = (np.clip(ix, 0, None) * np.clip(iy, 0, None) >= 0.8 * (f[:, 2] * f[:, 3])[:, None]).any(1)
    rest = fit[~inside & ~column[fit]]
    src = [contours[i] for i in rest], r[rest], fmask
    groups = merge(src[1], (W, H))
    fb = _union_boxes(src[1], groups)
    fw, fh = fb[:, 2] - fb[:, 0], fb[:, 3] - fb[:, 1]
    mine, faint = [boxes[i] for i in kept.values()], []
    # a pen stroke seen in the faint ink is wider than 2 px
    for n in np.flatnonzero((fh >= FAINT_MIN_H) & (fh <= FAINT_MAX_H) & (fw >= 3)):
        got = cut_out(groups[n], src)
        if got is None:
            continue
        (x0, y0, w, h), _, ink = got
        box = (int(x0 * scale), int(y0 * scale), max(1, round(w * scale)), max(1, round(h * scale)))
        if any(iou(box, b) >= 0.5 for b in boxes):
            continue
        covered = [i for i, b in zip(kept.values(), mine) if intersection(box, b) > 0.3 * b[2] * b[3]]
        joins.append((add(x0, y0, w, h, ink), *covered))
        faint.append(len(boxes) - 1)
    return Detections(boxes, crops, clean, scale, splits, joins, faint)


def _union_boxes(rects: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """(x0, y0, x1, y1) of each group of (x, y, w, h) rects. Most groups are one blob: those take no loop."""
    gb = np.zeros((len(groups), 4), np.int64)
    if groups:
        first = rects[[g[0] for g in groups]]
        gb[:] = np.column_stack([first[:, :2], first[:, :2] + first[:, 2:]])
    for k, g in enumerate(groups):
        if len(g) > 1:
            gb[k] = [*rects[g, :2].min(0), *(rects[g, :2] + rects[g, 2:]).max(0)]
    return gb


def _blobs(m: np.ndarray):
    """Outer contours of a mask, their boxes, the mask: the blobs that may be (part of) a digit."""
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    rects = np.array([cv2.boundingRect(c) for c in contours], np.int64).reshape(-1, 4)
    # specks cannot hold a digit and would only slow the merge down
    idx = np.flatnonzero((np.maximum(rects[:, 2], rects[:, 3]) >= 6) & ~((rects[:, 3] <= 2) & (rects[:, 2] >= 4)))
    thin = (rects[idx, 2] <= 3) & (rects[idx, 3] >= 2 * rects[idx, 2])
    if thin.sum() >= 3:
        # a faint margin line the threshold broke into dashes, too short for line removal: three or more
        # thin pieces in one column
        cx = rects[idx[thin], 0] + rects[idx[thin], 2] / 2
        column = (np.abs(cx[:, None] - cx[None]) <= 4).sum(1) >= 3
        keep = np.ones(len(idx), bool)
        keep[np.flatnonzero(thin)[column]] = False
        idx = idx[keep]
    if len(idx) > MAX_BLOBS:  # texture, not a page: bound the work, keep the biggest blobs
        idx = idx[np.argsort(-(rects[idx, 2] * rects[idx, 3]), kind="stable")[:MAX_BLOBS]]
    return [contours[i] for i in idx], rects[idx], m


def normalize_crop(ink: np.ndarray, stroke: bool = True) -> np.ndarray:
    """One digit (ink high, any size, binary or grey) -> 28x28 uint8 the way MNIST was made: fit into
    20x20 keeping the aspect ratio, area-interpolated, centre of mass at the centre of 28x28. With
    stroke=True a thick marker and a fine pen are first brought to MNIST's stroke width."""
    x, y, w, h = cv2.boundingRect(cv2.compare(ink, 64, cv2.CMP_GT))  # a third of np.nonzero's time
    out = np.zeros((CANVAS, CANVAS), np.uint8)
    if w == 0:
        return out
    c = ink[y: y + h, x: x + w]
    h, w = c.shape
    if stroke:
        # measure and correct the stroke at twice the box size, where a 3x3 kernel changes it by a
        # quarter of MNIST's; grey levels go through the same erosion or dilation
        s = 2 * BOX / max(h, w)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        c = cv2.resize(c, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        b = cv2.compare(c, 127, cv2.CMP_GT)
        area = cv2.countNonZero(b)
        edge = area - cv2.countNonZero(cv2.erode(b, np.ones((3, 3), np.uint8)))
        width = 2.0 * area / max(edge, 1)
        d = int(round((width - STROKE_TARGET) / 2))
        if d:
            k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(d) + 1, 2 * abs(d) + 1))
            if d < 0:
                c = cv2.dilate(c, k)
            else:
                thinner = cv2.erode(c, k)
                if cv2.countNonZero(cv2.compare(thinner, 127, cv2.CMP_GT)) > 0.25 * area:  # never erode a digit away
                    c = thinner
        h, w = c.shape
    s = BOX / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    small = cv2.resize(c, size, interpolation=cv2.INTER_AREA)
    m = cv2.moments(small)
    if m["m00"] <= 0:
        return out
    cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
    ox, oy = int(round(CANVAS / 2 - cx)), int(round(CANVAS / 2 - cy))
    sh, sw = small.shape
    # clip: a lopsided digit's mass centre can push its far edge past the canvas, as in MNIST
    x0, y0 = max(ox, 0), max(oy, 0)
    x1, y1 = min(ox + sw, CANVAS), min(oy + sh, CANVAS)
    out[y0:y1, x0:x1] = small[y0 - oy: y1 - oy, x0 - ox: x1 - ox]
    return out


def group_readings(digits: list[Digit]) -> list[str]:
    """Digits side by side on one line, similar in height and close, read left to right as one number.
    Numbers are listed top to bottom, then left to right."""
    order = sorted(range(len(digits)), key=lambda i: digits[i].box[0])
    chains: list[list[int]] = []
    for i in order:
        x, y, w, h = digits[i].box
        best, best_gap = None, None
        for ch in chains:
            px, py, pw, ph = digits[ch[-1]].box
            gap = x - (px + pw)
            y_overlap = min(y + h, py + ph) - max(y, py)
            if (-0.3 * min(w, pw) <= gap <= 0.8 * max(h, ph) and y_overlap >= 0.5 * min(h, ph)
                    and 0.6 <= h / ph <= 1 / 0.6 and (best_gap is None or gap < best_gap)):
                best, best_gap = ch, gap
        if best is None:
            chains.append([i])
        else:
            best.append(i)
    chains.sort(key=lambda ch: (min(digits[i].box[1] for i in ch), digits[ch[0]].box[0]))
    return ["".join(str(digits[i].label) for i in ch) for ch in chains]


def read_frame(frame: np.ndarray, runner, min_confidence: float = MIN_CONFIDENCE, debug: bool = False) -> FrameResult:
    """Detect, normalize and classify every digit of a frame, with one runner.predict call for all."""
    t0 = time.perf_counter()
    det = find_digits(frame)
    t1 = time.perf_counter()
    batch = np.stack([normalize_crop(c) for c in det.crops]) if det.crops else np.zeros((0, CANVAS, CANVAS), np.uint8)
    t2 = time.perf_counter()
    digits, probs, rejected = [], None, 0
    if len(batch):
        probs = runner.predict(batch)
        labels, conf = probs.argmax(1), probs.max(1)
        keep = choose(conf, det, min_confidence)
        joined = {j[0] for j in det.joins}
        rejected = sum(1 for i in range(len(conf)) if i not in joined and conf[i] < min_confidence)
        digits = [Digit(det.boxes[i], int(labels[i]), float(conf[i]), probs=probs[i]) for i in np.flatnonzero(keep)]
    t3 = time.perf_counter()
    ms = {"detect": (t1 - t0) * 1e3, "normalize": (t2 - t1) * 1e3, "classify": (t3 - t2) * 1e3}
    return FrameResult(digits, group_readings(digits), ms, det if debug else None, batch if debug else None,
                       rejected=rejected, probs=probs)


def classify_mnist_image(img: np.ndarray, runner) -> FrameResult:
    """A 28x28 image is taken as an MNIST-style digit already: classified as it is (light paper inverted)."""
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    if g.mean() > 127:
        g = 255 - g
    t0 = time.perf_counter()
    p = runner.predict(np.ascontiguousarray(g, np.uint8)[None])
    ms = {"detect": 0.0, "normalize": 0.0, "classify": (time.perf_counter() - t0) * 1e3}
    d = Digit((0, 0, g.shape[1], g.shape[0]), int(p[0].argmax()), float(p[0].max()))
    return FrameResult([d], [str(d.label)], ms, probs=p)


def intersection(a, b) -> int:
    """The overlapping area of two (x, y, w, h) boxes."""
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(ix, 0) * max(iy, 0)


def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    inter = intersection(a, b)
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter) if inter else 0.0
