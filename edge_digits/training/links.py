"""Fit the learned reader's link model (vision.links): which neighbouring candidates are one number.

Pairs: every pair of neighbouring peaks that vision.detector.decode weighs, on generated pages of the
training digit pools (page seeds from PAGE_SEED, apart from the detector's, the refiner's and the accept
model's), read by the detector net as camera does (the whole page in one pass) and, for each page, in one
window of a quarter of it read as its own frame (as predict's and camera's 2x tiles read a frame). Each
peak's box is matched to a true digit (IoU 0.3: the net's own boxes, before the refiner); a pair is linked
when both digits belong to one true number, and not linked when they belong to two, or when one of the two
peaks lies on no digit at all (a speck between two numbers must not join them). A pair with a peak on part
of a digit is left out. The fit: scikit-learn's logistic regression on standardised features, written as
vision.accept.Accept reads it; the threshold the reader applies is vision.links.THRESHOLD, tuned on
development pages.
"""
from __future__ import annotations

import time

import numpy as np

from edge_digits.vision.links import FEATURES

PAGE_SEED = 7_000_000  # detector pages from 1,000,000, refiner windows from 5,000,000, accept pages from 6,000,000
_W: dict = {}


def _labels(boxes: np.ndarray, page_boxes: np.ndarray, number_of: np.ndarray, ignore: np.ndarray,
            i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """1 / 0 for linked / not linked pairs (i, j) of these boxes, -1 for pairs left out."""
    from edge_digits.core.boxes import inside_matrix, iou_matrix, match

    gt = -np.ones(len(boxes), int)
    for a, b in match(page_boxes, boxes, 0.3) if len(page_boxes) and len(boxes) else ():
        gt[b] = a
    touch = iou_matrix(boxes, page_boxes).max(1) >= 0.05 if len(page_boxes) else np.zeros(len(boxes), bool)
    if len(ignore):
        touch |= inside_matrix(boxes, ignore).max(1) >= 0.2
    noise = (gt < 0) & ~touch
    y = -np.ones(len(i), int)
    both = (gt[i] >= 0) & (gt[j] >= 0)
    y[both] = (number_of[gt[i[both]]] == number_of[gt[j[both]]]).astype(int)
    y[((gt[i] >= 0) & noise[j]) | ((gt[j] >= 0) & noise[i]) | (noise[i] & noise[j])] = 0
    return y


def view_pairs(maps, grey: np.ndarray, boxes: np.ndarray, number_of: np.ndarray, ignore: np.ndarray):
    """The neighbouring pairs of one view (a page or a window of it) -> (features, labels) of those kept."""
    from edge_digits.vision.detector import IN_H, IN_W, decode, to_input

    prob, geom = maps(to_input(grey, (IN_W, IN_H)))
    pairs: list = []
    digits, _ = decode(prob, geom, (grey.shape[1], grey.shape[0]), pairs_out=pairs)
    if not pairs:
        return np.zeros((0, len(FEATURES))), np.zeros(0, int)
    i, j, X = pairs[0]
    found = np.array([b for b, _ in digits], np.float64).reshape(-1, 4)
    y = _labels(found, boxes, number_of, ignore, i, j)
    return X[y >= 0], y[y >= 0]


def page_pairs(page, maps, rng: np.random.Generator, window: bool = True):
    """One page -> (features, labels): the whole page, and (window) a random window of half its width and
    height read as a frame of its own."""
    import cv2

    grey = cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY)
    n = len(page.boxes)
    number_of = np.arange(n) + n  # a digit in no number is a number of its own
    for k, num in enumerate(page.numbers):
        number_of[list(num.digits)] = k
    boxes = np.asarray(page.boxes, np.float64).reshape(-1, 4)
    ignore = np.asarray(page.ignore, np.float64).reshape(-1, 4)
    parts = [view_pairs(maps, grey, boxes, number_of, ignore)]
    H, W = grey.shape
    h, w = H // 2, W // 2
    if window and h >= 32 and w >= 32:
        x0, y0 = int(rng.integers(0, W - w + 1)), int(rng.integers(0, H - h + 1))
        b = boxes - [x0, y0, 0, 0]
        inside = (b[:, 0] >= 0) & (b[:, 1] >= 0) & (b[:, 0] + b[:, 2] <= w) & (b[:, 1] + b[:, 3] <= h)
        # a digit the window cuts is neither linked nor noise: it becomes an ignore region of the window
        cut = np.concatenate([ignore - [x0, y0, 0, 0], b[~inside]])
        parts.append(view_pairs(maps, grey[y0: y0 + h, x0: x0 + w], b[inside], number_of[inside], cut))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]).astype(bool)


def _chunk(detector, seeds):
    """Pairs of these page seeds, in a worker of training.detector._pool_chunks (its digit bank), read by
    the detector file given (None: the shipped one)."""
    from edge_digits.data.pages import make_page
    from edge_digits.training.detector import _W as bank
    from edge_digits.vision.detector import load_detector

    if "det" not in _W or _W["files"] != detector:  # the detector net alone: pairs are weighed before refining
        _W["det"] = load_detector(detector, threads=1, refine=False, accept=False, links=False)
        _W["files"] = detector
    parts = [page_pairs(make_page(bank["bank"], np.random.default_rng(s)), _W["det"].maps,
                        np.random.default_rng(s + 11)) for s in seeds]
    return (np.concatenate([p[0] for p in parts]).reshape(-1, len(FEATURES)),
            np.concatenate([p[1] for p in parts]))


def make_pairs(sets, n_pages: int, workers: int = 2, seed: int = PAGE_SEED, detector=None):
    """(features, linked) of the pairs of n_pages pages from these digit pools (training.detector.split_sets)."""
    from functools import partial

    from edge_digits.training.detector import _pool_chunks

    parts = list(_pool_chunks(partial(_chunk, detector), sets, [seed + i for i in range(n_pages)], workers))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def train_links(sets, out, n_pages: int = 1500, workers: int = 2, made_by: str = "", detector=None) -> dict:
    """Pairs of n_pages pages -> fit (training.accept.fit, the same logistic regression) -> out (JSON,
    written whole or not at all). Returns the model."""
    from edge_digits.core import files, provenance
    from edge_digits.training.accept import fit

    t0 = time.time()
    X, y = make_pairs(sets, n_pages, workers, detector=detector)
    model = fit(X, y, names=FEATURES, what="link model")
    model["fit"]["pairs"] = model["fit"].pop("candidates")
    model["fit"]["linked"] = model["fit"].pop("digits")
    model["made_by"] = made_by
    model["pages"] = {"count": n_pages, "first_seed": PAGE_SEED, "seconds": round(time.time() - t0, 1)}
    model["versions"] = provenance.library_versions("numpy", "scikit-learn")
    files.write_json(out, model)
    return model
