"""The learned digit detector: a small fully convolutional net (CenterNet-style centres and sizes, with a
CRAFT-style link map between neighbouring digits of one number) and the short post-process that turns its
maps into digit boxes and numbers. Pure numpy + cv2; the net runs through runtime.maps (LiteRT or ONNX
Runtime, no TensorFlow). Trained by `edge-digits train --arch detector` (edge_digits.training.detector).

The net sees the grey frame letterboxed into its input (the file's own size: IN_W x IN_H, 320x240, as trained
and shipped; `export --imgsz` writes other sizes, see export/detector/README.md): the frame is scaled by
s = min(IN_W / W, IN_H / H) keeping its aspect ratio and centred, the rest filled with the frame's mean
grey (a portrait 480x640 frame becomes a 180x240 picture in the middle of 320x240). `letterbox` gives
(s, pad_x, pad_y); a point p of the source is at p * s + pad in the net input.

Maps, at 1/STRIDE of the input (60x80 for 240x320), channels last:
  prob[..., 0]  digit centre heatmap (CenterNet): a peak per digit
  prob[..., 1]  link map (CRAFT's affinity): high on the segment joining consecutive digits of a number
  geom[..., 0:2] log(w), log(h) of the digit's box in net-input pixels, read at its peak
  geom[..., 2:4] sub-cell offset of the centre: centre = STRIDE * (cell + offset), in input pixels
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edge_digits.vision.crops import VIEW_GROW
from edge_digits.vision.links import pair_features

STRIDE = 4
IN_W, IN_H = 320, 240
HEAT_T = 0.25  # peak threshold: every peak from here on is a candidate; vision.accept decides which are digits
TILE_HEAT_T = 0.5  # peak threshold in predict's tiles (vision.tiles), tuned on dev pages (0.35: precision 51%)
# predict's tiles run coarse to fine (vision.tiles.Activity): a tile at 2x or 4x only where a coarser pass's
# heat reached this somewhere over it. Dev pages, tiles reader, ungated -> 0.15: 4000x3000 (40 pages) net
# runs 1400 -> 713, recall 55.9 -> 55.7% (one digit of 478), precision 79.0 -> 79.2%; 1600x1200 (60 pages)
# runs 2100 -> 1365, recall 71.4% both, precision 80.6 -> 82.3%; 300 mixed pages: recall 84.8% both
TILE_GATE_T: float | None = 0.15
# link threshold, on the second-lowest of the samples along the segment (one sample may fall in a dip of
# the map). On 500 dev pages, numbers read whole: the lowest sample > 0.35 46.0%, the second-lowest > 0.4
# 47.5%, > 0.45 49.3%, > 0.5 50.4%; but from 0.45 on, numbers of the old generator's pages (tests/app) and
# the demo video's "92" fell apart. The detector trained 14,000 steps: on 500 dev pages, numbers whole at
# 0.4 / 0.5 / 0.6: 61.3 / 65.0 / 65.7%, but from 0.45 on, the "55" of the old generator's video page
# (tests/app/test_camera.py) falls apart again: a gain on our own generator's pages only, so 0.4 stays.
# The readers now link by the fitted link model (vision.links) instead; LINK_T is the rule without one
LINK_T = 0.4
LINK_SAMPLES = np.array([0.2, 0.35, 0.5, 0.65, 0.8], np.float32)
# peaks kept a frame, best first. 40 cut dense tables and keypads (5 of 500 dev pages hold 41-56 digits):
# 100 found 0.7 points more of the dev digits (camera reader 79.2 -> 79.9% recall, precision 89.5 -> 89.4%)
MAX_PEAKS = 100
K3 = np.ones((3, 3), np.uint8)


def letterbox(src_size: tuple[int, int], in_size: tuple[int, int] = (IN_W, IN_H)) -> tuple[float, float, float]:
    """(scale, pad_x, pad_y) that place a src_size = (W, H) frame centred in in_size = (W, H)."""
    W, H = src_size
    iw, ih = in_size
    s = min(iw / W, ih / H)
    return s, (iw - W * s) / 2.0, (ih - H * s) / 2.0


def to_input(grey: np.ndarray, in_size: tuple[int, int] = (IN_W, IN_H)) -> np.ndarray:
    """Grey uint8 frame of any size -> uint8 (in_h, in_w) letterboxed net input."""
    H, W = grey.shape[:2]
    iw, ih = in_size
    if (W, H) == (iw, ih):
        return grey
    s, px, py = letterbox((W, H), in_size)
    nw, nh = max(1, round(W * s)), max(1, round(H * s))
    small = cv2.resize(grey, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    if (nw, nh) == (iw, ih):
        return small
    out = np.full((ih, iw), int(small.mean()), np.uint8)
    x0, y0 = int(round(px)), int(round(py))
    x0, y0 = min(x0, iw - nw), min(y0, ih - nh)
    out[y0: y0 + nh, x0: x0 + nw] = small
    return out


def connected(n: int, edges) -> list[list[int]]:
    """The groups (connected components, members ascending) of n items joined by edges (a, b): the
    union-find that turns the link map's pairs into numbers."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in edges:
        ra, rb = root(int(a)), root(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for k in range(n):
        groups.setdefault(root(k), []).append(k)
    return list(groups.values())


def reading_order(cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    """The order in which the digits centred at (cx, cy) of one number are read: along the principal axis
    of the centres (closed form for 2x2), pointing right; a column reads top to bottom."""
    if len(cx) < 2:
        return np.arange(len(cx))
    qx, qy = cx - cx.mean(), cy - cy.mean()
    a = 0.5 * np.arctan2(2 * float(qx @ qy), float(qx @ qx - qy @ qy))
    vx, vy = np.cos(a), np.sin(a)
    if vx < -1e-3 or (abs(vx) <= 1e-3 and vy < 0):
        vx, vy = -vx, -vy
    return np.argsort(qx * vx + qy * vy, kind="stable")


def decode(prob: np.ndarray, geom: np.ndarray, src_size: tuple[int, int] | None = None,
           in_size: tuple[int, int] = (IN_W, IN_H), heat_t: float = HEAT_T, link_t: float = LINK_T,
           max_dist: float = 2.5, links=None, pairs_out: list | None = None
           ) -> tuple[list[tuple[np.ndarray, float]], list[list[int]]]:
    """Maps (h, w, 2) and (h, w, 4) -> digits [(box xywh float in source px, score)] and numbers
    [[digit indices, in reading order]]. Every digit is in exactly one number (a lone digit is a number
    of one). src_size (W, H) of the frame the boxes are scaled back to (default: the net input).
    Two neighbours are linked when the fitted link model (links: vision.links, through vision.accept.Accept)
    says so, or without one when the link map's second-lowest sample along their segment passes link_t.
    pairs_out, a list, receives (i, j, features) of every neighbouring pair (training.links fits on them)."""
    heat = np.ascontiguousarray(prob[..., 0], np.float32)
    peaks = (heat >= cv2.dilate(heat, K3)) & (heat > heat_t)
    ys, xs = np.nonzero(peaks)
    if len(ys) == 0:
        return [], []
    score = heat[ys, xs]
    if len(ys) > MAX_PEAKS:
        keep = np.argsort(-score)[:MAX_PEAKS]
        ys, xs, score = ys[keep], xs[keep], score[keep]
    g = geom[ys, xs].astype(np.float32)
    wh = np.exp(np.clip(g[:, 0:2], -2.0, 7.0))
    cx = STRIDE * (xs + g[:, 2])
    cy = STRIDE * (ys + g[:, 3])
    s, px, py = letterbox(src_size or in_size, in_size)
    boxes = np.stack([(cx - wh[:, 0] / 2 - px) / s, (cy - wh[:, 1] / 2 - py) / s, wh[:, 0] / s, wh[:, 1] / s], 1)
    n = len(ys)
    digits = [(boxes[i], float(score[i])) for i in range(n)]
    edges = []
    if n > 1:
        link = prob[..., 1]
        lh, lw = link.shape
        i, j = np.triu_indices(n, 1)
        c = np.stack([cx, cy], 1) / STRIDE  # in map cells (a cell's value is at its corner: cx = STRIDE*x)
        d = c[j] - c[i]
        size = np.maximum(wh[i, 1], wh[j, 1]) / STRIDE
        near = np.hypot(d[:, 0], d[:, 1]) < max_dist * size
        i, j, d = i[near], j[near], d[near]
        if len(i):
            pts = c[i][:, None, :] + LINK_SAMPLES[None, :, None] * d[:, None, :]  # (P, S, 2)
            qx = np.clip(np.rint(pts[..., 0]).astype(np.int32), 0, lw - 1)
            qy = np.clip(np.rint(pts[..., 1]).astype(np.int32), 0, lh - 1)
            samples = np.sort(link[qy, qx], 1)
            if links is not None or pairs_out is not None:
                X = pair_features(samples, c[i] * STRIDE, c[j] * STRIDE, wh[i], wh[j], score[i], score[j])
                if pairs_out is not None:
                    pairs_out.append((i, j, X))
            ok = links(X) if links is not None else samples[:, 1] > link_t
            edges = list(zip(i[ok], j[ok]))
    numbers = [[m[k] for k in reading_order(cx[m], cy[m])] for m in connected(n, edges)]
    numbers.sort(key=lambda m: (boxes[m[0], 1], boxes[m[0], 0]))
    return digits, numbers


def dedupe(boxes, scores, numbers, iou_t: float = 0.6) -> tuple[list[int], list[list[int]]]:
    """Box NMS after the boxes were snapped to their ink (two peaks on one digit snap to one box): the kept
    indices (the best score of each overlapping set) and the numbers renumbered to positions in that list."""
    from edge_digits.core.boxes import iou_matrix

    n = len(boxes)
    if n < 2:
        return list(range(n)), [list(m) for m in numbers]
    ov = iou_matrix(boxes, boxes)
    drop = np.zeros(n, bool)
    for i in np.argsort(-np.asarray(scores, np.float64), kind="stable"):
        if not drop[i]:
            dup = ov[i] > iou_t
            dup[i] = False
            drop |= dup
    keep = [i for i in range(n) if not drop[i]]
    pos = {i: k for k, i in enumerate(keep)}
    nums = [[pos[i] for i in m if i in pos] for m in numbers]
    return keep, [m for m in nums if m]


EDGE = 2  # source px: a box this close to the frame edge is a digit the edge cuts, never reported
# tiles=AUTO (the camera's default): a frame the one pass would see at under AUTO_SCALE of its size (one
# bigger than 640x480: a 1280x720 webcam's at 0.25) is also read in tiles at 2x that scale, so its digits
# arrive at least as big as a 640x480 frame's. 60 dev pages of 1280x720, one pass -> with the 2x tiles:
# recall 59.9 -> 74.6%, precision 86.0 -> 86.6%, read right 57.1 -> 70.1%, for 6.7 net runs a frame
AUTO, AUTO_SCALE = "auto", 0.5
# tiles=AUTO on a frame the one pass sees at AUTO_SCALE or more (640x480 and less): where it saw a digit
# under SMALL_H net px (24 px of a 640x480 frame) with heat SMALL_GATE_T, at most SMALL_TILES tiles at 2x,
# those over the most such heat (a bound on a frame's time). At 1/4 resolution two small neighbours are a
# map cell apart and share one peak. 300 dev pages of 640x480, one pass -> this: recall 80.9 -> 83.5%,
# precision 90.9 -> 90.8%, read right 75.5 -> 77.8%, numbers whole 50.9 -> 52.6%, digits under 20 px
# 55.4 -> 64.2%, for 1.83 net runs a frame; any number of tiles: 83.7% for 2.6 runs; every 2x tile, no
# gate: 84.1% at 89.0% precision for 8.8 runs; SMALL_H 10 / 14: 83.4 / 83.7% for 1.64 / 2.0 runs
SMALL_H: float | None = 12.0
SMALL_GATE_T = 0.35
SMALL_TILES: int | None = 2


@dataclass
class Found:
    """What the detector found in one frame: boxes (N, 4) x, y, w, h in source pixels (float), their
    centre scores, and the numbers as lists of box indices in reading order."""
    boxes: np.ndarray
    scores: np.ndarray
    numbers: list[list[int]]
    maps: tuple | None = field(default=None, repr=False)  # (prob, geom), for the debug view
    mask: np.ndarray | None = field(default=None, repr=False)  # the centre heatmap as uint8, for the debug view
    refined: bool = False  # the boxes went through the box refiner (vision.refine): no ink snapping after
    raw: np.ndarray | None = field(default=None, repr=False)  # the net's own boxes before refining (vision.accept, the debug view)


class LearnedDetector:
    """The detector net (runtime.maps) with its post-process: find(grey frame) -> Found. With a refiner
    (vision.refine's runner), every box is refined by it before boxes the frame edge cuts are dropped.
    With an accept model (vision.accept), read_learned lets it decide which candidates are digits."""

    def __init__(self, net, heat_t: float = HEAT_T, link_t: float = LINK_T, tiles: bool | str = False, refiner=None,
                 accept=None, links=None):
        self.net, self.heat_t, self.link_t, self.tiles, self.refiner = net, heat_t, link_t, tiles, refiner
        self.links = links  # vision.links: the fitted decision which neighbours are one number (else link_t)
        self.tile_heat_t = TILE_HEAT_T
        self.accept = accept  # vision.accept.Accept: read_learned's decision on which candidates are digits
        self.view_grow = VIEW_GROW  # read_learned: the classifier's second view of each digit (vision.crops)
        self.tile_gate_t = TILE_GATE_T
        self.small_h, self.small_gate_t = SMALL_H, SMALL_GATE_T  # tiles=AUTO: 2x tiles near small digits
        self.small_tiles = SMALL_TILES
        self.in_size = tuple(net.in_size)

    def maps(self, grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        outs = self.net.run(to_input(grey, self.in_size))
        prob = next(o for o in outs if o.shape[-1] == 2)
        geom = next(o for o in outs if o.shape[-1] == 4)
        return prob, geom

    def find(self, grey: np.ndarray, keep_maps: bool = False) -> Found:
        H, W = grey.shape[:2]
        pyr, base = None, grey
        tiled = self.tiles is True or (self.tiles == AUTO and letterbox((W, H), self.in_size)[0] < AUTO_SCALE)
        if tiled:  # also overlapping tiles at 2x and 4x (vision.tiles), one pyramid for all; auto: at 2x only
            from edge_digits.vision.tiles import levels, pyramid

            pyr = pyramid(grey, levels((W, H), self.in_size, max_levels=1 if self.tiles == AUTO else None))
            base = pyr[min(pyr)] if pyr else grey  # the whole pass letterboxes the smallest level, not the frame
        prob, geom = self.maps(base)
        digits, numbers = decode(prob, geom, (W, H), self.in_size, self.heat_t, self.link_t, links=self.links)
        boxes = np.array([b for b, _ in digits], np.float32).reshape(-1, 4)
        scores = np.array([s for _, s in digits], np.float32)
        gate_heat, gate_t, max_tiles = prob[..., 0], self.tile_gate_t, None
        if not tiled and self.tiles == AUTO and self.small_h:
            # small digits: the map's cells are too coarse for them (two small neighbours share one peak), so
            # where the one pass saw heat of a digit under small_h net px, 2x tiles read it again
            small = gate_heat * (np.exp(np.clip(geom[..., 1], -2.0, 7.0)) < self.small_h)
            if small.max() >= self.small_gate_t:
                from edge_digits.vision.tiles import levels, pyramid

                pyr = pyramid(grey, levels((W, H), self.in_size, max_levels=1))
                tiled, gate_heat, gate_t, max_tiles = bool(pyr), small, self.small_gate_t, self.small_tiles
        if tiled:
            from edge_digits.vision.tiles import merge, tiled_passes

            scales = [letterbox((W, H), self.in_size)[0]]  # net px per frame px of each pass, this one first
            passes = tiled_passes(self, grey, pyr, gate_heat, gate_t, max_tiles, scales)  # coarse to fine from its heat
            boxes, scores, numbers = merge([(boxes, scores, numbers)] + passes, scales=scales)
        raw = boxes
        if self.refiner is not None and len(boxes):
            from edge_digits.vision.refine import refine

            boxes = refine(self.refiner, grey, boxes)
        cut = ((boxes[:, 0] <= EDGE) | (boxes[:, 1] <= EDGE) | (boxes[:, 0] + boxes[:, 2] >= W - EDGE)
               | (boxes[:, 1] + boxes[:, 3] >= H - EDGE))
        if cut.any():
            keep = np.flatnonzero(~cut)
            new = {int(k): n for n, k in enumerate(keep)}
            boxes, scores, raw = boxes[keep], scores[keep], raw[keep]
            numbers = [[new[i] for i in g if i in new] for g in numbers]
            numbers = [g for g in numbers if g]
        mask = cv2.resize((prob[..., 0] * 255).astype(np.uint8), (W, H)) if keep_maps else None
        return Found(boxes, scores, numbers, (prob, geom) if keep_maps else None, mask,
                     refined=self.refiner is not None, raw=raw)


def load_detector(path=None, threads: int = 1, tiles: bool | str = False, refine: bool = True,
                  accept: bool = True, links: bool = True) -> LearnedDetector:
    """The shipped detector (config.detector_model()) or the given file, through runtime.maps; with tiles,
    each frame is also read in tiles at higher scales (vision.tiles: for still photos); with tiles=AUTO,
    a frame bigger than 640x480 is, at 2x (see AUTO_SCALE), and a smaller one in at most SMALL_TILES 2x
    tiles near its small digits; with refine (the default), each box is
    refined by the shipped box refiner (vision.refine); with accept (the default), the shipped accept model
    (vision.accept) decides which candidates are digits; with links (the default), the shipped link model
    (vision.links) decides which neighbours are one number."""
    from edge_digits.config import detector_model
    from edge_digits.runtime.maps import load_maps
    from edge_digits.vision.accept import load_accept
    from edge_digits.vision.links import load_links
    from edge_digits.vision.refine import load_refiner

    net = load_maps(path or detector_model(), threads)
    return LearnedDetector(net, tiles=tiles, refiner=load_refiner(threads=threads) if refine else None,
                           accept=load_accept() if accept else None, links=load_links() if links else None)
