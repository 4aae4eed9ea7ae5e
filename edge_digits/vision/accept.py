"""Which of the learned detector's candidates are digits: a logistic regression over what the reader knows
of each one (its peak, the classifier's two readings, its box), fitted on generated training pages
(edge_digits.training.accept) instead of hand-set thresholds.

Before it, a rule decided: a peak of 0.35 or more was a digit when the classifier read it at 0.3, a
fainter one only at 0.99. The fitted model trades the two off along more evidence. 1000 dev pages, camera
reader, candidates alike (recall / precision / read right): the rule 84.60 / 91.81 / 79.22; the model at
the threshold that maximises F1 on its own fitting pages 86.23 / 92.31 / 79.51 (benchmarks/camera.md).

The model is a JSON file (export/accept/accept.json): feature names, weights and bias, with the
standardisation folded into the weights; the threshold is THRESHOLD, tuned on development pages. Applying it is a dot product, so the edge path needs numpy only;
no library is worth loading for that (scikit-learn fits it, training side only).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_digits.config import EdgeDigitsError
from edge_digits.core.boxes import pair_iou

# What each candidate is described by, in this order (features()); the JSON file names them, and a file
# whose names differ is refused (a model fitted on other features would read these wrongly).
FEATURES = ("logit_peak", "logit_p", "margin", "log_height", "log_aspect", "log_aspect_sq", "views_agree",
            "logit_p_min_view", "refine_iou", "log_height_sq", "logit_peak_x_logit_p", "log_height_rel")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def features(peaks, view_a, view_b, boxes, raw, frame_h: int) -> np.ndarray:
    """(N,) peak scores, (N, 10) the classifier's probabilities of each view (view_b = view_a: one view),
    (N, 4) the boxes as reported and (N, 4) as the net gave them before refining, the frame's height ->
    (N, len(FEATURES)) float64.

    The last, log_height_rel, places a candidate among the frame's others: its log height against the
    median of the stronger half of them (by peak). A pen dot or a speck is a fraction of the digits beside
    it, and the classifier, trained on digits, reads it as one: the demo page's full stop as a 6 in 15 of the
    demo clip's 48 frames before this feature, 5 after (export/accept/README.md has the dev figures and the
    variants tried)."""
    view_a, view_b = np.asarray(view_a, np.float64), np.asarray(view_b, np.float64)
    p = np.sort((view_a + view_b) / 2, 1)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    lh = np.log(np.maximum(boxes[:, 3], 1.0) / max(frame_h, 1))
    la = np.log(np.maximum(boxes[:, 2], 1.0) / np.maximum(boxes[:, 3], 1.0))
    lpk, lp = _logit(peaks), _logit(p[:, -1])
    # against the stronger half of the frame's candidates (by peak): a photo's many faint specks would else set the
    # median, and a speck would stand as tall as it; one candidate alone: 0, no evidence either way
    strong = np.asarray(peaks, np.float64) >= np.median(peaks) if len(lh) else np.zeros(0, bool)
    rel = lh - np.median(lh[strong]) if len(lh) else lh
    return np.stack([lpk, lp, p[:, -1] - p[:, -2], lh, la, la * la,
                     (view_a.argmax(1) == view_b.argmax(1)).astype(np.float64),
                     _logit(np.minimum(view_a.max(1), view_b.max(1))), pair_iou(boxes, raw), lh * lh, lpk * lp,
                     rel], 1)


# The probability over which a candidate is a digit: tuned on the development pages, as the detector's other
# thresholds are (the weights are fitted on training pages). 1000 dev pages, camera reader, recall /
# precision / read right / numbers whole: see benchmarks/camera.md's notes (scripts/dev_eval.py --accept-t).
# With the blended detector (export/detector/README.md) and the model refitted on it, 0.35 / 0.3 / 0.25:
# 90.15 / 93.17 / 84.08 / 69.50, 90.66 / 92.36 / 84.36 / 69.70, 90.98 / 91.42 / 84.52 / 69.80; 0.3 beats
# the previous detector at its 0.35 (90.13 / 91.89 / 83.87 / 68.45) on all four.
THRESHOLD = 0.3


@dataclass
class Accept:
    """The fitted decision: a candidate is a digit when sigmoid(weights . features + bias) > threshold."""
    weights: np.ndarray
    bias: float
    threshold: float = THRESHOLD

    def probability(self, X: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(np.asarray(X, np.float64) @ self.weights + self.bias)))

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return self.probability(X) > self.threshold

    @classmethod
    def from_file(cls, path: Path, names: tuple = FEATURES, what: str = "accept model",
                  threshold: float = THRESHOLD) -> "Accept":
        """The JSON file training.accept writes (or, with its names, what and threshold, another fitted
        logistic decision: vision.links); anything else is a one-line EdgeDigitsError."""
        try:
            d = json.loads(Path(path).read_text())
            got, w = tuple(d["features"]), np.asarray(d["weights"], np.float64)
            bias = float(d["bias"])
        except FileNotFoundError:
            raise EdgeDigitsError(f"{path}: no such {what} file") from None
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            raise EdgeDigitsError(f"{path}: not an {what} ({type(e).__name__}: {str(e)[:80]})") from None
        if got != tuple(names) or w.shape != (len(names),) or not np.isfinite(w).all() or not np.isfinite(bias):
            raise EdgeDigitsError(f"{path}: not an {what} for these features (expected {len(names)} "
                                  f"finite weights named as the reader's features and a finite bias)")
        return cls(w, bias, threshold)


def load_accept(path=None) -> Accept:
    """The shipped accept model (config.accept_model()) or the given file."""
    from edge_digits.config import accept_model

    return Accept.from_file(Path(path) if path else accept_model())
