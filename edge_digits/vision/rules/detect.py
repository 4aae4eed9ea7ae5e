"""Find the digit candidates in a camera frame: boxes and ink crops of everything that could be a digit.
Pure functions on pixels; edge_digits.vision normalizes and classifies what this finds.

The steps: ink mask against a local paper-white estimate, long strokes (ruled lines, page edges) removed,
outer contours merged into digits (edge_digits.blobs), a blob too wide for one digit also offered cut in
two, near groups also offered joined, and a second look at a lower threshold for small faint digits.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edge_digits.core.boxes import intersection, iou
from edge_digits.vision.rules.blobs import K3, SPLIT_ASPECT, long_runs, merge, near_pairs, shrink, split

MAX_SIDE = 1024  # larger frames are shrunk first: a phone photo has far more pixels than a digit needs
INK_RATIO = 0.26  # ink is at least this much darker than the local paper; faint ruled lines are not
# A second look for small digits in faint ink, of which that threshold keeps only bits (_second_look):
# blobs FAINT_MIN_H to FAINT_MAX_H working pixels tall in the ink at this lower threshold, where no
# candidate fits (shorter ones are mostly the faint ink's noise)
FAINT_RATIO, FAINT_MIN_H, FAINT_MAX_H = 0.18, 12, 32
INK_MIN = 18  # grey levels: below this a darker pixel is sensor noise, even in deep shadow
MIN_HEIGHT = 10  # working pixels: smaller blobs are specks (the issue asks for digits from about 15 px)
# A faint ruled line's stub stuck to a digit (_line_stubs): ink at most STUB_THICK rows tall, and the line
# goes on past it at least STUB_RATIO darker than the paper
STUB_THICK, STUB_RATIO = 3, 0.08
MAX_BLOBS = 300  # candidate blobs a frame, the biggest first: a page never has more, noise and texture do


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
    # for edge_digits.boxfit, all at working scale: each candidate's box, the main ink's blobs (x, y, w, h),
    # specks included, and how much darker than the paper each pixel is, with the paper level
    work: list[tuple[int, int, int, int]] = field(default_factory=list)
    rects: np.ndarray | None = None
    darker: np.ndarray | None = None
    paper: np.ndarray | None = None


def to_source(box, scale: float) -> tuple[int, int, int, int]:
    """A working-scale (x, y, w, h) box in source-frame pixels."""
    x0, y0, w, h = box
    return int(x0 * scale), int(y0 * scale), max(1, round(w * scale)), max(1, round(h * scale))


def ink_mask(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels clearly darker than the paper around them. The paper's white level is estimated on a 1/8
    frame: a max filter wider than any stroke erases the ink, so shadows and gradients divide out while
    the inside of a thick marker digit still counts as ink (a local-mean adaptive threshold loses it).
    Returns the mask, the paper level and how much darker than it each pixel is."""
    H, W = gray.shape
    sw, sh = max(8, W // 8), max(8, H // 8)
    small = cv2.resize(gray, (sw, sh), interpolation=cv2.INTER_AREA)
    k = max(3, int(min(sw, sh) * 0.15)) | 1
    small = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    small = cv2.blur(small, (k, k))
    paper = cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR)
    darker = cv2.subtract(paper, cv2.GaussianBlur(gray, (3, 3), 0))  # blurred against noise for the mask
    need = cv2.max(cv2.convertScaleAbs(paper, alpha=INK_RATIO), INK_MIN)
    return cv2.compare(darker, need, cv2.CMP_GT), paper, darker


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
    mask, paper, darker = ink_mask(gray)
    if cv2.countNonZero(mask) > 0.3 * H * W:  # noise or texture, not ink on paper
        return Detections([], [], mask, scale)
    # one direction after the other: where a margin line crosses a ruled line, each looks thick to the
    # other, and the crossing would stay behind
    quarter = shrink(mask, (max(1, W // 4), max(1, H // 4)))
    ruled = long_runs(mask, quarter, True)
    clean = cv2.subtract(mask, ruled)
    if cv2.countNonZero(ruled):
        # the vertical search needs the ruled lines gone: stacked close, they would pass for one tall stroke
        quarter = shrink(clean, (max(1, W // 4), max(1, H // 4)))
    clean = cv2.subtract(clean, long_runs(clean, quarter, False))
    lines = cv2.subtract(mask, clean)
    main = _blobs(clean)

    def cut_out(members, src=main):
        """The box and ink crop of one group of contours, or None where it cannot be a whole digit."""
        contours, rects, clean = src[:3]
        if len(members) == 1:  # most groups: plain ints, no array reductions
            x0, y0, w, h = rects[members[0]].tolist()
        else:
            r = rects[members]
            x0, y0 = int(r[:, 0].min()), int(r[:, 1].min())
            w, h = int((r[:, 0] + r[:, 2]).max()) - x0, int((r[:, 1] + r[:, 3]).max()) - y0
        x1, y1 = x0 + w, y0 + h
        if h < MIN_HEIGHT or h > 0.95 * H or w > 2.0 * h:
            return None
        if x0 <= 0 or y0 <= 0 or x1 >= W or y1 >= H:
            return None  # cut by the frame edge: half a digit reads as another digit
        own = np.zeros((h, w), np.uint8)
        cv2.drawContours(own, [contours[i] for i in members], -1, 255, -1, offset=(-x0, -y0))
        crop = cv2.bitwise_and(clean[y0:y1, x0:x1], own)
        cl, cr = _line_stubs(crop, darker, paper, x0, y0)
        if cl or cr:
            crop = crop[:, cl: w - cr]
            rows = np.flatnonzero(crop.any(1))
            x0, w, y0, h = x0 + cl, w - cl - cr, y0 + int(rows[0]), int(rows[-1] - rows[0]) + 1
            crop = crop[rows[0]: rows[-1] + 1]
            x1, y1 = x0 + w, y0 + h
            if h < MIN_HEIGHT or w > 2.0 * h:  # the stub was what made it tall enough
                return None
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
        rim = cv2.subtract(cv2.dilate(crop, K3), cut)
        p = paper[y0:y1, x0:x1]
        ink = cv2.divide(cv2.subtract(p, gray[y0:y1, x0:x1]), p, scale=255 / 0.75)
        return (x0, y0, w, h), crop, cv2.bitwise_and(ink, rim)

    def source_box(x0, y0, w, h):
        return to_source((x0, y0, w, h), scale)

    def add(x0, y0, w, h, crop):
        boxes.append(source_box(x0, y0, w, h))
        work.append((x0, y0, w, h))
        crops.append(crop)
        return len(boxes) - 1

    boxes, crops, splits, joins, work = [], [], [], [], []
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
    kb = gb[list(kept)]
    src = _second_look(darker, paper, lines, main[1], kb)
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
        box = source_box(x0, y0, w, h)
        if any(iou(box, b) >= 0.5 for b in boxes):
            continue
        covered = [i for i, b in zip(kept.values(), mine) if intersection(box, b) > 0.3 * b[2] * b[3]]
        joins.append((add(x0, y0, w, h, ink), *covered))
        faint.append(len(boxes) - 1)
    return Detections(boxes, crops, clean, scale, splits, joins, faint, work, main[3], darker, paper)


def _line_stubs(crop: np.ndarray, darker: np.ndarray, paper: np.ndarray, x0: int, y0: int) -> tuple[int, int]:
    """Columns to cut off the left and right of a blob: a stub of a faint ruled line, which the ink
    threshold kept only in stretches too short for the line search, stuck to the digit (a 1 with a stub
    each side is a box twice too wide). A stub is a run of columns whose ink is at most STUB_THICK rows
    tall, in one band of rows, at the blob's end; it is a line, not a digit's stroke (the bar of a 7, the
    foot of a 2), only where the band goes on darker than the paper past the blob's end."""
    h, w = crop.shape
    if w < 6:
        return 0, 0
    H, W = darker.shape
    cuts = [0, 0]
    for side in (0, 1):
        end, near = (crop[:, -1:], crop[:, -3:]) if side else (crop[:, :1], crop[:, :3])
        # most blobs: their end is no thin line, or it thickens at once
        if cv2.countNonZero(end) > STUB_THICK or cv2.countNonZero(near) > 3 * STUB_THICK:
            continue
        band = np.flatnonzero(end)
        if band[-1] - band[0] >= STUB_THICK:
            continue
        # past the blob's end, the same rows (one more each way: lines tilt a little)
        reach = max(8, h // 2)
        ya, yb = max(y0 + band[0] - 1, 0), min(y0 + band[-1] + 2, H)
        xa, xb = (x0 + w, min(x0 + w + reach, W)) if side else (max(x0 - reach, 0), x0)
        if xb - xa < 4:
            continue
        need = max(INK_MIN, int(paper[ya, xa] * STUB_RATIO))
        if (darker[ya:yb, xa:xb].max(0) > need).mean() < 0.7:
            continue
        n = 1
        cols = crop[:, ::-1] if side else crop
        for c in cols[:, 1:].T:  # inward, while the columns stay thin and in the band
            r = np.flatnonzero(c)
            if len(r) == 0 or r[-1] - r[0] >= STUB_THICK or r[0] < band[0] - 1 or r[-1] > band[-1] + 1:
                break
            n += 1
        if 3 <= n < w - 2:
            cuts[side] = n
    return cuts[0], cuts[1]


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


def _second_look(darker, paper, lines, rects, kb):
    """Blobs of the faint ink (FAINT_RATIO) around seeds, as (contours, rects, mask) for cut_out: blobs of
    the main ink (rects) that made no candidate, and the small candidates (kb: x0, y0, x1, y1), which may
    be a piece of a faint digit. Blobs inside a candidate or in a column of thin ones are left out.
    Only windows around the seeds are searched: a faint digit leaves at least a bit at the main threshold,
    and the whole frame at the lower one is mostly sensor noise (and twice the time)."""
    H, W = darker.shape
    sb = rects[rects[:, 3] <= FAINT_MAX_H]
    small = kb[kb[:, 3] - kb[:, 1] <= FAINT_MAX_H]
    s = np.concatenate([sb[~_inside_any(sb, kb, 1.0)], np.column_stack([small[:, :2], small[:, 2:] - small[:, :2]])])
    # a digit holding the seed reaches no further from it than FAINT_MAX_H less the seed's own size
    mx, my = np.maximum(FAINT_MAX_H - s[:, 2], 4) + 1, np.maximum(FAINT_MAX_H - s[:, 3], 4) + 1
    win = np.column_stack([np.maximum(s[:, 0] - mx, 0), np.maximum(s[:, 1] - my, 0),
                           np.minimum(s[:, 0] + s[:, 2] + mx, W), np.minimum(s[:, 1] + s[:, 3] + my, H)])
    merged = []  # overlapping windows become one
    for w in win[np.argsort(win[:, 0])].tolist():
        for o in merged:
            if w[0] < o[2] and o[0] < w[2] and w[1] < o[3] and o[1] < w[3]:
                o[:] = min(o[0], w[0]), min(o[1], w[1]), max(o[2], w[2]), max(o[3], w[3])
                break
        else:
            merged.append(w)
    fmask = np.zeros(darker.shape, np.uint8)  # the faint ink less the lines, for the crops: in the windows only
    contours, out = [], []
    for x0, y0, x1, y1 in merged:
        need = cv2.max(cv2.convertScaleAbs(paper[y0:y1, x0:x1], alpha=FAINT_RATIO), INK_MIN)
        faint = cv2.subtract(cv2.compare(darker[y0:y1, x0:x1], need, cv2.CMP_GT), lines[y0:y1, x0:x1])
        fmask[y0:y1, x0:x1] = faint
        # the faint rim of a removed line goes too
        cs, _ = cv2.findContours(cv2.subtract(faint, cv2.dilate(lines[y0:y1, x0:x1], K3)), cv2.RETR_EXTERNAL,
                                 cv2.CHAIN_APPROX_SIMPLE, offset=(x0, y0))
        for c in cs:
            x, y, w, h = cv2.boundingRect(c)
            # a blob the window cuts is not seen whole (one against the frame edge is dropped anyway)
            if max(w, h) >= 6 and not (x == x0 > 0 or y == y0 > 0 or x + w == x1 < W or y + h == y1 < H):
                contours.append(c)
                out.append((x, y, w, h))
    r = np.array(out, np.int64).reshape(-1, 4)
    fit = np.flatnonzero((r[:, 3] <= FAINT_MAX_H) & (r[:, 2] <= 2 * FAINT_MAX_H))
    # thin blobs stacked in one column: a faint margin line the ruled lines cut into dashes, not 1s
    thin = r[:, 2] <= np.maximum(3, 0.4 * r[:, 3])
    cx = r[:, 0] + r[:, 2] / 2
    t = fit[thin[fit]]
    column = np.zeros(len(r), bool)
    column[t] = (np.abs(cx[t, None] - cx[None, thin]) <= 5).sum(1) >= 2
    # most faint blobs are digits found already, or pieces of them: only the rest go on
    rest = fit[~_inside_any(r[fit], kb, 0.8) & ~column[fit]]
    return [contours[i] for i in rest], r[rest], fmask


def _inside_any(r: np.ndarray, boxes: np.ndarray, share: float) -> np.ndarray:
    """For each rect (x, y, w, h): whether at least `share` of its area lies in one of boxes (x0, y0, x1, y1)."""
    ix = np.minimum(r[:, None, 0] + r[:, None, 2], boxes[None, :, 2]) - np.maximum(r[:, None, 0], boxes[None, :, 0])
    iy = np.minimum(r[:, None, 1] + r[:, None, 3], boxes[None, :, 3]) - np.maximum(r[:, None, 1], boxes[None, :, 1])
    return (np.maximum(ix, 0) * np.maximum(iy, 0) >= share * (r[:, 2] * r[:, 3])[:, None]).any(1)


def _blobs(m: np.ndarray):
    """Outer contours of a mask, their boxes, the mask: the blobs that may be (part of) a digit; and the
    boxes of all blobs."""
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
    # every blob of two pixels or more, specks too, for edge_digits.boxfit: a small digit's last piece may be one
    return [contours[i] for i in idx], rects[idx], m, rects[rects[:, 2] * rects[:, 3] >= 2]

