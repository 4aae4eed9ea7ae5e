"""Photo-like pages built from MNIST digits, with ground truth: the test bed of the camera pipeline.

A page is dark ink on light paper under uneven light, with ruled lines, a margin line, sometimes the page
edge and the desk, specks, sensor noise, blur and a slight perspective, holding up to 8 digits of very
different sizes, some written side by side as numbers. A digit cut by the frame edge may be added; it is
not ground truth (the detector must ignore it). Everything is drawn from one seeded generator, so a seed
and a set of digits give the same pages byte for byte.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edge_digits.core.boxes import inside as _inside, iou

# BGR inks: black, blue, dark blue, red, green, graphite
INKS = [(20, 20, 25), (140, 40, 20), (90, 30, 30), (40, 40, 170), (40, 110, 30), (70, 70, 70)]


@dataclass
class Page:
    image: np.ndarray  # BGR uint8
    boxes: np.ndarray  # (N, 4) int x, y, w, h in image pixels, one per ground-truth digit
    labels: np.ndarray  # (N,) uint8
    readings: list[str] = field(default_factory=list)  # numbers, top to bottom, each read left to right
    # digits the perspective pushed against the frame edge: cut by it, so no ground truth (the detector
    # must ignore them), and a box on one is no error either
    ignore: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), int))


def _ink_crop(img: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(img > 40)
    return img[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]


def _render_digit(img: np.ndarray, h: int, rng: np.random.Generator) -> np.ndarray:
    """One MNIST digit as an alpha map h pixels tall, in the stroke style of a pen, a marker or a pencil."""
    crop = _ink_crop(img).astype(np.float32) / 255.0
    s = h / crop.shape[0]
    w = max(1, round(crop.shape[1] * s))
    a = cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR if s > 1 else cv2.INTER_AREA)
    # MNIST strokes scale with the digit (a 200 px digit would have 25 px strokes): thin most of the big
    # ones down to a pen line, leave some as markers.
    stroke = 0.13 * h
    if h > 40 and rng.random() < 0.7:
        target = max(2.5, h * rng.uniform(0.03, 0.07))
        k = int((stroke - target) * 0.6)
        if k >= 2:
            a = cv2.erode(a, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k | 1, k | 1)))
    elif rng.random() < 0.2:
        k = max(3, int(h * 0.05)) | 1
        a = cv2.dilate(a, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    a = np.clip((a - 0.15) * 1.6, 0, 1)  # a pen line has a firmer edge than MNIST's soft rim
    if rng.random() < 0.15:  # the pen skipped: the digit comes in pieces the detector has to merge
        y0 = int(h * rng.uniform(0.2, 0.6))
        a[y0: y0 + max(2, int(0.05 * h))] = 0
    return a


def _paste(canvas: np.ndarray, alpha: np.ndarray, x: int, y: int, ink: np.ndarray) -> None:
    H, W = canvas.shape[:2]
    h, w = alpha.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[y0 - y: y1 - y, x0 - x: x1 - x, None]
    region = canvas[y0:y1, x0:x1]
    region *= 1 - a
    region += a * ink


def _layout(n: int, W: int, H: int, area: tuple[int, int, int, int], rng, min_h: int = 15) -> list[tuple[int, int, int, int]]:
    """Groups of digits as (x, y, height, count), not too close to each other or the page limits."""
    ax0, ay0, ax1, ay1 = area
    groups, placed, left = [], [], n
    while left > 0:
        k = int(min(left, rng.choice([1, 1, 2, 3, 4])))
        for _ in range(40):
            h = int(np.exp(rng.uniform(np.log(min_h), np.log(H * 0.5))))
            h = min(h, int((ax1 - ax0 - 20) / (0.75 * k)), ay1 - ay0 - 20)
            if h < 15:
                k, h = 1, 15
            gw = int(0.95 * h * k)
            if ax1 - ax0 - gw - 20 <= 0 or ay1 - ay0 - h - 20 <= 0:
                continue
            x = int(rng.integers(ax0 + 10, ax1 - gw - 10))
            y = int(rng.integers(ay0 + 10, ay1 - h - 10))
            m = int(0.6 * h)
            box = (x - m, y - m, x + gw + m, y + h + m)
            if all(box[2] < b[0] or b[2] < box[0] or box[3] < b[1] or b[3] < box[1] for b in placed):
                placed.append(box)  # numbers keep apart by the margins of both
                groups.append((x, y, h, k))
                break
        else:
            break
        left -= k
    return groups


def _light(W: int, H: int, rng) -> np.ndarray:
    """A linear gradient times, half the time, the soft shadow of a hand or a phone."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    g = rng.uniform(-1, 1, 2)
    light = 1 - rng.uniform(0.1, 0.45) * ((g[0] * (xx / W - 0.5) + g[1] * (yy / H - 0.5)) + 0.5)
    if rng.random() < 0.5:
        c = rng.uniform(0, 1, 2) * (W, H)
        r = rng.uniform(0.2, 0.5) * W
        light *= 1 - rng.uniform(0.2, 0.45) * np.exp(-((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / (2 * r * r))
    return light


def make_page(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, size: tuple[int, int] = (640, 480),
              max_digits: int = 8, min_height: int = 15) -> Page:
    """A random page from the MNIST digits x (N, 28, 28) ink high with labels y."""
    W, H = size
    paper = np.array([rng.uniform(205, 250), rng.uniform(210, 250), rng.uniform(215, 252)], np.float32)
    img = np.empty((H, W, 3), np.float32)
    img[:] = paper
    area = [0, 0, W, H]

    if rng.random() < 0.6:  # ruled paper: light blue or grey, sometimes dark enough to be found as ink
        gap = int(rng.uniform(22, 48))
        dark = rng.random() < 0.4
        colour = (90, 80, 70) if dark else (215, 185, 160)
        for yy in range(int(rng.integers(5, gap)), H, gap):
            cv2.line(img, (0, yy), (W, yy), colour, int(rng.integers(1, 3)), cv2.LINE_AA)
        if rng.random() < 0.4:
            xm = int(rng.uniform(0.08, 0.2) * W)
            cv2.line(img, (xm, 0), (xm, H), (80, 80, 200), int(rng.integers(1, 3)), cv2.LINE_AA)
            area[0] = xm + 12
    if rng.random() < 0.3:  # the page ends inside the frame and the desk shows
        side = int(rng.integers(4))
        cut = int(rng.uniform(0.06, 0.15) * (W if side < 2 else H))
        desk = np.array(rng.uniform(40, 120, 3), np.float32)
        if side == 0:
            img[:, :cut] = desk
            area[0] = max(area[0], cut + 20)
        elif side == 1:
            img[:, W - cut:] = desk
            area[2] = W - cut - 20
        elif side == 2:
            img[:cut] = desk
            area[1] = cut + 20
        else:
            img[H - cut:] = desk
            area[3] = H - cut - 20

    n = int(rng.integers(1, max_digits + 1))
    inked, labels, groups = [], [], []  # inked: the pixels of each digit, boxed after the warp
    for gx, gy, gh, k in _layout(n, W, H, tuple(area), rng, min_height):
        ink = np.array(INKS[int(rng.integers(len(INKS)))], np.float32)
        xx, members = gx, []
        for _ in range(k):
            i = int(rng.integers(len(x)))
            h = max(15, int(gh * rng.uniform(0.88, 1.0)))
            a = _render_digit(x[i], h, rng)
            if xx + a.shape[1] > area[2] - 8:
                break  # a wide digit would run off the page
            yy = gy + int(rng.integers(0, gh - h + 1))
            _paste(img, a, xx, yy, ink)
            ys, xs = np.nonzero(a > 0.3)
            inked.append(np.column_stack([xs + xx, ys + yy]).astype(np.float32))
            members.append(len(labels))
            labels.append(int(y[i]))
            xx += a.shape[1] + max(3, int(gh * rng.uniform(0.12, 0.35)))
        if members:
            groups.append((gy, gx, members))
    if rng.random() < 0.3:  # a digit cut by the frame edge: not ground truth
        i, h = int(rng.integers(len(x))), int(rng.uniform(40, 120))
        a = _render_digit(x[i], h, rng)
        side = int(rng.integers(2))
        cx = -a.shape[1] // 2 if side == 0 else W - a.shape[1] // 2
        cy = int(rng.integers(0, H - h))
        near = [p for p in inked if len(p) and p[:, 0].min() < cx + a.shape[1] + 20 and p[:, 0].max() > cx - 20
                and p[:, 1].min() < cy + h + 20 and p[:, 1].max() > cy - 20]
        if not near:  # it must not touch a real digit, or that one would be cut too
            _paste(img, a, cx, cy, np.array(INKS[0], np.float32))
    for _ in range(int(rng.integers(0, 25))):  # specks of dust and pen dots
        c = (int(rng.integers(W)), int(rng.integers(H)))
        cv2.circle(img, c, int(rng.integers(1, 3)), tuple(float(v) for v in rng.uniform(30, 120, 3)), -1)

    img *= _light(W, H, rng)[..., None]

    # slight perspective: the four corners move by up to 3% of the frame
    src = np.float32([[0, 0], [W, 0], [W, H], [0, H]])
    dst = (src + rng.uniform(-0.03, 0.03, (4, 2)) * (W, H)).astype(np.float32)
    M = cv2.getPerspectiveTransform(src, dst)
    img = cv2.warpPerspective(img, M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    boxes = []
    for pts in inked:
        q = cv2.perspectiveTransform(pts[None], M)[0]
        lo, hi = q.min(0), q.max(0) + 1
        boxes.append([*np.round(lo), *np.round(hi - lo)])
    b = np.array(boxes, int).reshape(-1, 4)
    cut = (b[:, 0] <= EDGE) | (b[:, 1] <= EDGE) | (b[:, 0] + b[:, 2] >= W - EDGE) | (b[:, 1] + b[:, 3] >= H - EDGE)
    readings = [(gy, gx, "".join(str(labels[i]) for i in m if not cut[i])) for gy, gx, m in groups]

    sigma = rng.uniform(0.3, 1.2)
    img = cv2.GaussianBlur(img, (0, 0), sigma)
    img += rng.normal(0, rng.uniform(2, 7), img.shape).astype(np.float32)
    readings.sort()
    return Page(np.clip(img, 0, 255).astype(np.uint8), b[~cut], np.array(labels, np.uint8)[~cut],
                [t for _, _, t in readings if t], b[cut])


def make_pages(x: np.ndarray, y: np.ndarray, n: int, seed: int, **kw) -> list[Page]:
    rng = np.random.default_rng(seed)
    return [make_page(x, y, rng, **kw) for _ in range(n)]


def shake(page: Page, n_frames: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """A hand-held camera over one page: small drift and tilt, changing exposure, fresh sensor noise.
    Returns (frame, boxes) pairs; the labels stay the page's."""
    rng = np.random.default_rng(seed)
    H, W = page.image.shape[:2]
    out = []
    for t in range(n_frames):
        dx, dy = 6 * np.sin(t / 7 + seed), 4 * np.cos(t / 9)
        M = cv2.getRotationMatrix2D((W / 2, H / 2), 0.8 * np.sin(t / 11), 1.0)
        M[:, 2] += (dx, dy)
        f = cv2.warpAffine(page.image, M, (W, H), borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        f = f * (1 + 0.05 * np.sin(t / 5)) + rng.normal(0, 2, f.shape).astype(np.float32)
        b = page.boxes.astype(np.float32)
        c = np.stack([b[:, :2], b[:, :2] + b[:, 2:]], 1) @ M[:, :2].T + M[:, 2]
        lo, hi = c.min(1), c.max(1)
        out.append((np.clip(f, 0, 255).astype(np.uint8), np.concatenate([lo, hi - lo], 1).round().astype(int)))
    return out


EDGE = 2  # pixels: a digit whose ink comes this close to the frame edge is cut by it (blur spreads ink 2 px)
HEIGHTS = [(0, 20), (20, 30), (30, 60), (60, 120), (120, None)]  # true box height buckets for score()


def score(truth: list[tuple[np.ndarray, np.ndarray, list[str]]], found: list[tuple[list, list[int], list[str]]],
          min_iou: float = 0.5) -> dict:
    """Detection recall and precision (a box matches a true digit at IoU >= min_iou, one to one, best
    first), end-to-end accuracy (found and read right, over all true digits), and the share of pages
    whose numbers were all read exactly. truth: (boxes, labels, readings[, ignore boxes]) per page;
    found: (boxes, labels, readings). A found box lying mostly on an ignored digit counts neither way."""
    n_true = n_found = matched = right = pages_ok = 0
    by_h: dict[str, list[int]] = {}  # height bucket -> [digits, found, read right]
    for page, (fb, fl, fr) in zip(truth, found):
        tb, tl, tr = page[:3]
        if len(page) > 3 and len(page[3]):
            off = {j for j, f in enumerate(fb) if any(_inside(f, g) >= 0.5 for g in page[3])}
            fb, fl = [f for j, f in enumerate(fb) if j not in off], [v for j, v in enumerate(fl) if j not in off]
        status = [[0, 0] for _ in tb]
        n_true, n_found = n_true + len(tb), n_found + len(fb)
        pairs = sorted(((iou(t, f), i, j) for i, t in enumerate(tb) for j, f in enumerate(fb)), reverse=True)
        used_t, used_f = set(), set()
        for v, i, j in pairs:
            if v < min_iou:
                break
            if i in used_t or j in used_f:
                continue
            used_t.add(i), used_f.add(j)
            matched += 1
            right += int(tl[i]) == int(fl[j])
            status[i] = [1, int(int(tl[i]) == int(fl[j]))]
        pages_ok += sorted(tr) == sorted(fr)
        for b, (f, r) in zip(tb, status):
            key = next(f"{lo}-{hi - 1} px" if hi else f"{lo}+ px" for lo, hi in HEIGHTS if not hi or b[3] < hi)
            acc = by_h.setdefault(key, [0, 0, 0])
            acc[0], acc[1], acc[2] = acc[0] + 1, acc[1] + f, acc[2] + r
    return {"digits": n_true, "detections": n_found,
            "recall": matched / max(n_true, 1), "precision": matched / max(n_found, 1),
            "accuracy": right / max(n_true, 1), "readings_exact": pages_ok / max(len(truth), 1),
            "by_height": {k: {"digits": v[0], "recall": v[1] / v[0], "accuracy": v[2] / v[0]}
                          for k, v in sorted(by_h.items(), key=lambda kv: int(kv[0].split("-")[0].rstrip("+ px")))}}
