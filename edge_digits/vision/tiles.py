"""The learned detector at more than one scale, for still photos (`predict`): small digits in a big frame.

The net sees a frame letterboxed into 320x240, so a 4000x3000 phone photo is shrunk 12.5 times and a digit
150 px tall arrives 12 px tall, at the edge of what the net finds. Here the frame is also cut into
overlapping 320x240 tiles at 2x and 4x that scale (never past the frame's own pixels), each tile run
through the same net, as SAHI (slicing-aided hyper inference) does for small objects. The net is fully
convolutional, so a tile needs nothing new; its peaks must clear a higher threshold (TILE_HEAT_T, tuned on
dev pages: at full size paper grain and pen marks look more like small digits than at the net's scale). What each tile finds is mapped back to the frame; a box the
tile's edge cuts is dropped (the whole pass or a neighbour tile holds that digit whole); then one box is
kept of each set that overlaps (IoU > 0.5, best score first), a box lying mostly inside a box more than
twice its size is dropped (a loop of an 8 that a tile took for a 0: digits do not sit inside digits),
and numbers found at different scales that share a digit are joined.

Coarse to fine: a tile is run only where a coarser pass's centre heat reached TILE_GATE_T somewhere over
it (Activity): blank paper at 1x stays blank at 4x. Cost: at most 1 + 9 (2x) + 25 (4x) net runs for a 12 MP
photo, about half of them on dev pages (vision.detector.TILE_GATE_T gives the figures); a 640x480 frame is
already at half its size, so it gets one level of at most 9 tiles at full size. The camera (tiles=AUTO in
vision.detector) reads a bigger frame at 2x too, and a 640x480 one in at most two 2x tiles, over its small digits.
"""
from __future__ import annotations

import numpy as np

from edge_digits.core.boxes import inside_matrix, iou_matrix

OVERLAP = 0.25  # of a tile's side: a digit up to a quarter of a tile tall lies whole in some tile
CUT = 3  # tile px: a box this close to a tile edge the tile cuts (not a frame edge) is dropped
MAX_LEVELS = 2  # tiled levels past the whole-frame pass (2x and 4x its scale)
# A box mostly inside a box more than twice its size is a piece of that digit (merge), unless the bigger box
# was seen under this many net px in its own pass: a digit smaller than the net's training range (6 net px
# and up) gets a box of about that size whatever its own, so on a 12 MP photo the whole pass boxed a 30 px
# digit twice too big and dropped the 2x or 4x tile's right box as its piece. 60 dev photos of 4000x3000,
# predict's tiles (recall / precision / read right / numbers whole): every host 62.9 / 81.7 / 60.5 / 43.4,
# hosts from 12 net px 77.2 / 81.0 / 74.5 / 50.8, from 16 77.6 / 80.6 / 74.9 / 51.2, none 77.6 / 79.2 / 74.9 /
# 50.4. 1000 dev pages (16): camera 89.83 / 92.10 / 83.60 / 68.20 -> 90.14 / 91.84 / 83.88 / 68.48, tiles
# 91.03 / 90.45 / 84.61 / 68.86 -> 91.44 / 90.10 / 84.98 / 69.24.
NEST_MIN_NET_H = 16.0
# ... and a box under SPARE_MIN_PX frame px is a piece whatever its host: the finest pass, at the frame's own
# px, boxes strokes of a 12-15 px digit 4-8 px tall, and with every box spared from an unsure host those
# pieces were kept (other generator's pages, 300 of its dev seeds: predict's precision 91.4 -> 79.7%, the
# camera's 96.5 -> 92.0%). The smallest digit we read is 12 px. With this: 91.3% and 96.5%; 60 dev photos of
# 4000x3000 read as with every box spared (77.57 / 80.63 / 74.90 / 51.24); sparing only boxes their own pass
# saw at 8 net px or more instead: 69.77 / 81.92 / 67.11 / 48.35.
SPARE_MIN_PX = 10.0


def tile_grid(size: int, tile: int, overlap: float = OVERLAP) -> list[int]:
    """Start offsets of tiles of `tile` px covering `size` px with at least `overlap` of a tile shared."""
    if size <= tile:
        return [0]
    n = int(np.ceil((size - tile) / (tile * (1 - overlap)))) + 1
    return [int(round(v)) for v in np.linspace(0, size - tile, n)]


def levels(src: tuple[int, int], in_size: tuple[int, int], max_levels: int | None = None) -> list[float]:
    """The scales (net px per source px) of the tiled passes: 2x, 4x ... the whole pass's, at most 1;
    at most max_levels of them (default MAX_LEVELS)."""
    max_levels = MAX_LEVELS if max_levels is None else max_levels
    W, H = src
    s = min(in_size[0] / W, in_size[1] / H)
    out = []
    for _ in range(max_levels):
        if s >= 1.0:
            break
        s = min(1.0, 2 * s)
        out.append(s)
    return out


def reduction(src: tuple[int, int], in_size: tuple[int, int]) -> int:
    """How much smaller a still photo may be decoded (1 or 2 a side) and lose nothing the tiles see: 2
    when even the finest tiled level is at most half the photo's scale (a 12 MP photo: 0.32). Dev pages
    of 4000x3000, tiles reader, read at half size (halved by INTER_AREA): recall 55.7 -> 56.7%, precision
    79.2 -> 78.3%, read right 53.8% both."""
    lv = levels(src, in_size)
    return 2 if lv and lv[-1] <= 0.5 else 1


def merge(parts: list[tuple[np.ndarray, np.ndarray, list[list[int]]]], iou_t: float = 0.5,
          nest_t: float = 0.7, scales: list[float] | None = None) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
    """Boxes, scores and numbers of several passes (frame px) -> one set: the best of each overlapping
    set, nested smaller boxes dropped, digits linked where most passes that found both linked them
    (voted_links), numbers in reading order. scales: each pass's net px per frame px; with them, only a
    box its own pass saw at NEST_MIN_NET_H net px or more drops the boxes of SPARE_MIN_PX or more nested in it."""
    from edge_digits.vision.detector import connected, reading_order

    boxes = np.concatenate([p[0].reshape(-1, 4) for p in parts]).astype(np.float32)
    scores = np.concatenate([p[1] for p in parts]).astype(np.float32)
    n = len(boxes)
    if n == 0:
        return boxes, scores, []
    ov, ins = iou_matrix(boxes, boxes), inside_matrix(boxes, boxes)
    area = boxes[:, 2] * boxes[:, 3]
    sure = None  # each box seen at NEST_MIN_NET_H net px or more in its own pass
    if scales is not None:
        scale = np.concatenate([np.full(len(p[0]), s, np.float32) for p, s in zip(parts, scales)])
        sure = boxes[:, 3] * scale >= NEST_MIN_NET_H
    owner = np.arange(n)
    for i in np.argsort(-scores, kind="stable"):
        if owner[i] != i:
            continue
        dup = (ov[i] > iou_t) & (owner == np.arange(n))
        dup[i] = False
        owner[dup] = i
    for i in range(n):  # a box mostly inside a kept box more than twice its size is a piece of that digit
        if owner[i] == i:
            host = (ins[i] > nest_t) & (area > 2 * area[i]) & (owner == np.arange(n))
            if sure is not None and boxes[i, 3] >= SPARE_MIN_PX:  # a digit's size: only a sure host drops it
                host &= sure
            if host.any():
                owner[i] = -1
    keep = [i for i in range(n) if owner[i] == i]
    pos = {i: k for k, i in enumerate(keep)}
    members = connected(len(keep), voted_links(parts, [pos.get(int(o), -1) if o >= 0 else -1 for o in owner]))
    numbers = []
    for ks in members:
        c = boxes[[keep[k] for k in ks], :2] + boxes[[keep[k] for k in ks], 2:] / 2
        numbers.append([ks[j] for j in reading_order(c[:, 0], c[:, 1])])
    numbers.sort(key=lambda m: (boxes[keep[m[0]], 1], boxes[keep[m[0]], 0]))
    return boxes[keep], scores[keep], numbers


def voted_links(parts, kept_as: list[int]) -> list[tuple[int, int]]:
    """The links of the merged digits: two are one number when most of the passes that found both linked
    them (a tie links). kept_as[i]: the merged digit that digit i of the passes, numbered as merge
    concatenates them, became (-1: dropped). Before, any one pass's link joined two numbers, so one scale's
    wrong link (most often between a keypad's keys) was enough. 1000 dev pages, numbers read whole, any
    pass's link -> the passes' vote: predict's tiles 63.72 -> 66.07% (joined with others 8.5 -> 5.7% of the
    numbers, split 1.8 -> 2.1%; rows 51.9 -> 51.1%), camera (2x tiles near small digits, HD frames) 64.44 ->
    65.80% (rows 49.8 -> 49.7%)."""
    seen: list[dict[int, int]] = []  # per pass: merged digit -> its group in that pass
    pairs: set[tuple[int, int]] = set()  # every pair some pass linked (a frame's lone digits make none)
    base = 0
    for b, _, nums in parts:
        g = {}
        for k, grp in enumerate(nums):
            kept = sorted({kept_as[base + i] for i in grp if kept_as[base + i] >= 0})
            g.update(dict.fromkeys(kept, k))
            pairs.update((a, c) for n, a in enumerate(kept) for c in kept[n + 1:])
        seen.append(g)
        base += len(b)
    edges = []
    for a, c in sorted(pairs):
        both = [g[a] == g[c] for g in seen if a in g and c in g]
        if 2 * sum(both) >= len(both):
            edges.append((a, c))
    return edges


def pyramid(grey: np.ndarray, scales: list[float]) -> dict[float, np.ndarray]:
    """The frame at each scale (<= 1), each made from the next larger one: one pass over a 12 MP frame,
    not one a level (area averaging over two steps is averaging over one)."""
    import cv2

    H, W = grey.shape[:2]
    out, prev = {}, grey
    for s in sorted(scales, reverse=True):
        if s >= 1.0:
            out[s] = grey
            continue
        size = (max(1, round(W * s)), max(1, round(H * s)))
        prev = cv2.resize(prev, size, interpolation=cv2.INTER_AREA) if size != prev.shape[1::-1] else prev
        out[s] = prev
    return out


class Activity:
    """Where the passes so far saw anything of a digit: the max of their centre heatmaps, in frame
    coordinates on a grid of `cell` frame px. A finer level's tile is run only where a coarser pass's heat
    reached gate_t somewhere over it (coarse to fine: a blank stretch of paper at 1x is blank at 4x)."""

    def __init__(self, W: int, H: int, cell: float):
        self.cell = max(1.0, float(cell))
        self.a = np.zeros((int(np.ceil(H / self.cell)), int(np.ceil(W / self.cell))), np.float32)

    def _span(self, x0: float, y0: float, x1: float, y1: float):
        gh, gw = self.a.shape
        c = self.cell
        return (min(gh - 1, max(0, int(y0 // c))), min(gh, max(1, int(np.ceil(y1 / c)))),
                min(gw - 1, max(0, int(x0 // c))), min(gw, max(1, int(np.ceil(x1 / c)))))

    def add(self, heat: np.ndarray, ox: float, oy: float, scale: float) -> None:
        """A pass's centre heatmap (h, w) at STRIDE input px a cell, of a net input whose px p lies at
        frame px (p - (ox, oy)) / scale."""
        import cv2

        from edge_digits.vision.detector import STRIDE

        h, w = heat.shape
        r0, r1, c0, c1 = self._span(-ox / scale, -oy / scale, (STRIDE * w - ox) / scale, (STRIDE * h - oy) / scale)
        # the max over each grid cell, near enough: dilate by the ratio of the cell sizes, then sample
        k = max(1, int(round(self.cell * scale / STRIDE)))
        hm = cv2.dilate(np.ascontiguousarray(heat, np.float32), np.ones((k, k), np.uint8)) if k > 1 else heat
        ri = np.clip((((np.arange(r0, r1) + 0.5) * self.cell * scale + oy) / STRIDE).astype(np.int64), 0, h - 1)
        ci = np.clip((((np.arange(c0, c1) + 0.5) * self.cell * scale + ox) / STRIDE).astype(np.int64), 0, w - 1)
        np.maximum(self.a[r0:r1, c0:c1], hm[np.ix_(ri, ci)], out=self.a[r0:r1, c0:c1])

    def copy(self) -> "Activity":
        new = Activity.__new__(Activity)
        new.cell, new.a = self.cell, self.a.copy()
        return new

    def seen(self, x0: float, y0: float, x1: float, y1: float, gate_t: float) -> bool:
        r0, r1, c0, c1 = self._span(x0, y0, x1, y1)
        return bool(self.a[r0:r1, c0:c1].max() >= gate_t)

    def mass(self, x0: float, y0: float, x1: float, y1: float, gate_t: float) -> float:
        """How much of the span saw heat >= gate_t (grid cells, weighted by their heat)."""
        r0, r1, c0, c1 = self._span(x0, y0, x1, y1)
        a = self.a[r0:r1, c0:c1]
        return float(a[a >= gate_t].sum())


def tiled_passes(detector, grey: np.ndarray, pyr: dict[float, np.ndarray] | None = None,
                 whole_heat: np.ndarray | None = None, gate_t: float | None = None,
                 max_tiles: int | None = None, scales_out: list | None = None) -> list:
    """(boxes, scores, numbers) in frame px of each tile of each tiled level (see levels); pyr: the
    frame at those levels (pyramid), made here when not given. With the whole pass's centre heatmap (of
    the smallest level, letterboxed) and gate_t, a tile is run only where a coarser pass saw heat >= gate_t;
    with max_tiles too, at most that many a level, those over the most such heat (a bound on a frame's time).
    scales_out, a list, receives each returned pass's net px per frame px (merge's scales)."""
    from edge_digits.vision.detector import STRIDE, decode, letterbox

    H, W = grey.shape[:2]
    iw, ih = detector.in_size
    pyr = pyr if pyr is not None else pyramid(grey, levels((W, H), (iw, ih)))
    activity = None
    if whole_heat is not None and gate_t is not None and pyr:
        base = pyr[min(pyr)]  # what the whole pass letterboxed
        ls, px, py = letterbox(base.shape[1::-1], (iw, ih))
        s0 = ls * base.shape[1] / W  # whole-pass net px per frame px
        activity = Activity(W, H, STRIDE / s0)
        activity.add(whole_heat, px, py, s0)
    out = []
    for s in sorted(pyr):
        big = pyr[s]
        bh, bw = big.shape[:2]
        before = activity.copy() if activity is not None else None  # the coarser passes only, not this level's
        grid = [(x0, y0) for y0 in tile_grid(bh, ih) for x0 in tile_grid(bw, iw)]
        if before is not None:  # each tile's heat over gate_t in the coarser passes, once; none: not run
            mass = [before.mass(x0 / s, y0 / s, min(x0 + iw, bw) / s, min(y0 + ih, bh) / s, gate_t) for x0, y0 in grid]
            kept = [k for k in range(len(grid)) if mass[k] > 0]
            if max_tiles is not None and len(kept) > max_tiles:  # the hottest first
                kept = sorted(kept, key=lambda k: -mass[k])[:max_tiles]
            grid = [grid[k] for k in kept]
        for x0, y0 in grid:
            tile = big[y0: y0 + ih, x0: x0 + iw]
            th, tw = tile.shape[:2]
            prob, geom = detector.maps(tile)
            ls, px, py = letterbox((tw, th), (iw, ih))  # a tile at the frame's edge may be smaller
            if activity is not None:
                activity.add(prob[..., 0], px - ls * x0, py - ls * y0, ls * s)
            digits, numbers = decode(prob, geom, (tw, th), (iw, ih), detector.tile_heat_t, detector.link_t,
                                     links=detector.links)
            if not digits:
                continue
            b = np.array([d[0] for d in digits], np.float32)
            sc = np.array([d[1] for d in digits], np.float32)
            # cut by the tile's edge where that edge is inside the frame
            cut = (((b[:, 0] <= CUT) & (x0 > 0)) | ((b[:, 1] <= CUT) & (y0 > 0))
                   | ((b[:, 0] + b[:, 2] >= tw - CUT) & (x0 + tw < bw))
                   | ((b[:, 1] + b[:, 3] >= th - CUT) & (y0 + th < bh)))
            keep = np.flatnonzero(~cut)
            new = {int(k): j for j, k in enumerate(keep)}
            b = b[keep]
            b[:, :2] += np.float32([x0, y0])
            out.append((b / s, sc[keep], [[new[i] for i in g if i in new] for g in numbers]))
            if scales_out is not None:
                scales_out.append(s * ls)
    return out
