"""Training windows of the box refiner (vision.refine), from generated pages of the training digits.

Each page (data.pages, the "train" digit pools, page seeds apart from the detector's own) gives:
  - every box the shipped detector (int8, LiteRT, as the camera runs it) finds on it that overlaps a true
    digit (IoU >= MIN_IOU; the true box of highest IoU is the target); a box on a digit the frame cuts is
    left out, and so is one on no digit (the refiner moves boxes, it does not judge them);
  - JITTER boxes a true digit made wrong the ways the detector's are: width scaled by exp(N(0, 0.35)) (too
    wide over a neighbour, too narrow on a 1), height by exp(N(0, 0.15)), centre moved by N(0, 0.12) of the
    height across and N(0, 0.1) down: more windows a page, and the errors a later detector might make.
The second refinement round sees boxes already close to their digit: the jittered boxes near the truth
teach that case too. Each box gives its square window (the first round's) and, where the box is thin, its
narrower last-round window too (vision.refine.THIN).
"""
from __future__ import annotations

import cv2
import numpy as np

from edge_digits.core.boxes import iou_matrix
from edge_digits.vision.refine import SIZE, THIN, window

MIN_IOU = 0.1
JITTER = 2
PAGE_SEED = 5_000_000  # train-pool pages from here on: the detector trained on seeds from 1,000,000
_DET: dict = {}


def page_windows(page, detector, rng: np.random.Generator, jitter: int = JITTER):
    """One page -> (windows (N, 28, 28) uint8, targets (N, 4) x0, y0, x1, y1 in window units, the
    candidate boxes' IoU with their target (N,), from-detector flags (N,), the windows' x0, y0, width,
    height in frame px (N, 4): what maps a target back to the frame)."""
    grey = cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY)
    truth = np.asarray(page.boxes, np.float32).reshape(-1, 4)
    if not len(truth):
        return (np.zeros((0, SIZE, SIZE), np.uint8), np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                np.zeros(0, bool), np.zeros((0, 4), np.float32))
    cands = [(b, True) for b in detector.find(grey).boxes]
    for t in truth:
        for _ in range(jitter):
            w, h = t[2] * np.exp(rng.normal(0, 0.35)), t[3] * np.exp(rng.normal(0, 0.15))
            cx, cy = t[0] + t[2] / 2 + rng.normal(0, 0.12) * t[3], t[1] + t[3] / 2 + rng.normal(0, 0.1) * t[3]
            cands.append((np.float32([cx - w / 2, cy - h / 2, w, h]), False))
    boxes = np.array([b for b, _ in cands], np.float32).reshape(-1, 4)
    ov = iou_matrix(boxes, truth)
    j, best = ov.argmax(1), ov.max(1)
    xs, ts, ious, det, geo = [], [], [], [], []
    for k, (b, from_det) in enumerate(cands):
        if best[k] < MIN_IOU:
            continue
        t = truth[j[k]]
        for thin in (0.0, THIN):  # the square window, and the last round's narrower one of a thin box
            win, (x0, y0, sw, sh) = window(grey, b, thin)
            if thin and geo and geo[-1] == (x0, y0, sw, sh):
                continue  # not a thin box: one window
            xs.append(win)
            ts.append([(t[0] - x0) / sw, (t[1] - y0) / sh, (t[0] + t[2] - x0) / sw, (t[1] + t[3] - y0) / sh])
            ious.append(best[k])
            det.append(from_det)
            geo.append((x0, y0, sw, sh))
    return (np.array(xs, np.uint8).reshape(-1, SIZE, SIZE), np.array(ts, np.float32).reshape(-1, 4),
            np.array(ious, np.float32), np.array(det, bool), np.array(geo, np.float32).reshape(-1, 4))


def _chunk_windows(seeds):
    """Windows of these page seeds, in a worker of training.detector._pool_chunks (its digit bank)."""
    from edge_digits.data.pages import make_page
    from edge_digits.training.detector import _W
    from edge_digits.vision.detector import load_detector

    if "det" not in _DET:
        _DET["det"] = load_detector(threads=1, refine=False)  # the net's own boxes are what the refiner sees
    parts = [page_windows(make_page(_W["bank"], np.random.default_rng(s)), _DET["det"], np.random.default_rng(s + 1))
             for s in seeds]
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(4))


def make_windows(sets, n_pages: int, workers: int = 2, seed: int = PAGE_SEED):
    """(x, t, iou, from_detector) of n_pages pages from these digit pools (training.detector.split_sets)."""
    from edge_digits.training.detector import _pool_chunks

    parts = list(_pool_chunks(_chunk_windows, sets, [seed + i for i in range(n_pages)], workers))
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(4))
