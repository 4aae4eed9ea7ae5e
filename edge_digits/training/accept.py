"""Fit the learned reader's accept model (vision.accept): which candidates are digits.

Candidates: every box the shipped reader holds on generated pages of the training digit pools (page seeds
from PAGE_SEED, apart from the detector's, the refiner's and the classifier's), found and read exactly as
camera and predict do (vision.pipeline.learned_candidates; half the pages with predict's tiles). A
candidate is a digit when it matches a true digit at IoU 0.5 (data.pages.score's rule, one candidate a
digit: a second box on the same digit is a false alarm); one mostly on a digit the page cuts is left out.
The fit: scikit-learn's logistic regression on standardised features. The threshold the reader applies
is vision.accept.THRESHOLD, tuned on development pages; the one that maximises F1 on the fitting pages
is recorded with the fit, for comparison.
"""
from __future__ import annotations

import time

import numpy as np

from edge_digits.vision.accept import FEATURES

PAGE_SEED = 6_000_000  # detector pages from 1,000,000, refiner windows from 5,000,000
_W: dict = {}


def page_candidates(page, detector, runner) -> tuple[np.ndarray, np.ndarray]:
    """One page -> (features (N, len(FEATURES)), is-a-digit (N,) bool) of the reader's candidates."""
    import cv2

    from edge_digits.core.boxes import inside_matrix, match
    from edge_digits.vision.pipeline import learned_candidates

    c = learned_candidates(cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY), runner, detector)
    boxes = np.asarray(c.boxes, np.float64).reshape(-1, 4)
    y = np.zeros(len(boxes), bool)
    for _, j in match(page.boxes, boxes, 0.5) if len(page.boxes) and len(boxes) else ():
        y[j] = True
    kept = np.ones(len(boxes), bool)
    if len(page.ignore) and len(boxes):
        kept = inside_matrix(boxes, page.ignore).max(1) < 0.5
    return c.features[kept], y[kept]


def _chunk(detector, classifier, seeds):
    """Candidates of these page seeds, in a worker of training.detector._pool_chunks (its digit bank), found
    by the detector file given and read by the classifier file given (None: the shipped ones)."""
    from edge_digits import runtime
    from edge_digits.config import camera_model
    from edge_digits.data.pages import make_page
    from edge_digits.training.detector import _W as bank
    from edge_digits.vision.detector import AUTO, load_detector

    if _W.get("files") != (detector, classifier):  # the reader as shipped, less the decision being fitted; loaded
        # again for other files (with workers=1 a second fit runs in this same process)
        _W["det"], _W["clf"] = load_detector(detector, threads=1, accept=False), runtime.load(classifier or camera_model(), threads=1)
        _W["files"] = (detector, classifier)
    parts = []
    for s in seeds:
        _W["det"].tiles = True if s % 2 else AUTO  # camera's reader and predict's, alike
        parts.append(page_candidates(make_page(bank["bank"], np.random.default_rng(s)), _W["det"], _W["clf"]))
    return (np.concatenate([p[0] for p in parts]).reshape(-1, len(FEATURES)),
            np.concatenate([p[1] for p in parts]))


def make_candidates(sets, n_pages: int, workers: int = 2, seed: int = PAGE_SEED, detector=None, classifier=None):
    """(features, is-a-digit) of n_pages pages from these digit pools (training.detector.split_sets)."""
    from functools import partial

    from edge_digits.training.detector import _pool_chunks

    parts = list(_pool_chunks(partial(_chunk, detector, classifier), sets, [seed + i for i in range(n_pages)], workers))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def f1_threshold(p: np.ndarray, y: np.ndarray, grid=np.arange(0.05, 0.951, 0.01)) -> tuple[float, float]:
    """The threshold of the grid where keeping p > t gives the best F1 against y, and that F1."""
    f1 = [2 * float((y & (p > t)).sum()) / max(float((p > t).sum() + y.sum()), 1.0) for t in grid]
    k = int(np.argmax(f1))
    return float(grid[k]), f1[k]


def fit(X: np.ndarray, y: np.ndarray, C: float = 1.0, names: tuple = FEATURES, what: str = "accept model") -> dict:
    """-> the accept model (or another fitted decision over these feature names: training.links) as
    vision.accept.Accept.from_file reads it (standardisation folded into the weights), with its fitting
    figures."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y, bool)
    if len(X) < 100 or y.all() or not y.any():
        from edge_digits.config import EdgeDigitsError

        raise EdgeDigitsError(f"too few candidates to fit a {what} ({len(X)}, {int(y.sum())} positive)")
    mu, sd = X.mean(0), X.std(0) + 1e-9
    lr = LogisticRegression(C=C, max_iter=5000).fit((X - mu) / sd, y)
    w = lr.coef_[0] / sd
    b = float(lr.intercept_[0] - (lr.coef_[0] * mu / sd).sum())
    p = 1.0 / (1.0 + np.exp(-(X @ w + b)))
    t, f1 = f1_threshold(p, y)
    keep = p > t
    return {"features": list(names), "weights": [float(v) for v in w], "bias": b,
            "fit": {"candidates": int(len(y)), "digits": int(y.sum()), "f1_threshold": round(t, 2), "f1": round(f1, 4),
                    "kept_digits": int((keep & y).sum()), "kept_not_digits": int((keep & ~y).sum()), "C": C}}


def train_accept(sets, out, n_pages: int = 1500, workers: int = 2, made_by: str = "", detector=None,
                 classifier=None) -> dict:
    """Candidates of n_pages pages -> fit -> out (JSON, written whole or not at all). Returns the model."""
    from edge_digits.core import files, provenance

    t0 = time.time()
    X, y = make_candidates(sets, n_pages, workers, detector=detector, classifier=classifier)
    model = fit(X, y)
    model["made_by"] = made_by
    model["pages"] = {"count": n_pages, "first_seed": PAGE_SEED, "seconds": round(time.time() - t0, 1)}
    model["versions"] = provenance.library_versions("numpy", "scikit-learn")
    files.write_json(out, model)
    return model
