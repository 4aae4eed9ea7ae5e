"""Which neighbouring digit candidates belong to one number: a logistic regression over what the detector's
maps say of each pair (its link map along the segment between the two, their distance, gap, alignment and
sizes), fitted on generated training pages (edge_digits.training.links) instead of one hand-set threshold
on the link map (vision.detector.LINK_T).

Why: on 300 dev pages, 9.0% of the true numbers were not read whole only because they were joined with a
neighbouring digit or number (a table's next column, a keypad's next key, the next number of a list), and
0.5% because they were split; the link map alone cannot tell a wide gap inside a number from a narrow
one between numbers, but the gap and the alignment of the two boxes can (benchmarks/camera.md's notes).

The model is a JSON file (export/links/links.json) read by vision.accept.Accept (the same fitted
logistic decision: weights with the standardisation folded in, one dot product, numpy only); its
threshold is THRESHOLD, tuned on development pages.
"""
from __future__ import annotations

import numpy as np

# What each candidate pair is described by, in this order (pair_features()); the JSON file names them.
FEATURES = ("logit_link_min", "logit_link_2nd", "logit_link_mid", "logit_link_max", "distance", "distance_sq",
            "along_x", "gap_x", "gap_y", "log_height_ratio", "logit_peak_min", "logit_link_2nd_x_along_x")

# The probability over which a pair is linked: tuned on the development pages (benchmarks/camera.md's
# notes; scripts/dev_eval.py --links-t), the weights fitted on training pages. 1000 dev pages, numbers read
# whole: LINK_T's rule 60.75%, the model at 0.5 / 0.7 / 0.8 / 0.9: 62.18 / 64.44 / 65.44 / 64.93%. From 0.8
# on, rows lose to the rule (50.3 -> 47.0%): numbers written with wide gaps split, as the issue saw on real
# phone photos, while the gain is in keypads; 0.7 keeps rows at the rule's level (49.8%)
THRESHOLD = 0.7


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def pair_features(samples: np.ndarray, ca: np.ndarray, cb: np.ndarray, wha: np.ndarray, whb: np.ndarray,
                  peak_a: np.ndarray, peak_b: np.ndarray) -> np.ndarray:
    """(P, S) link map samples along each pair's segment, sorted ascending; (P, 2) the two centres and
    (P, 2) the two box sizes (w, h), in net-input px; (P,) the two peaks -> (P, len(FEATURES)) float64.
    Lengths are in units of the pair's mean digit height, so the features do not depend on the scale."""
    s = np.asarray(samples, np.float64)
    d = np.asarray(cb, np.float64) - np.asarray(ca, np.float64)
    wha, whb = np.asarray(wha, np.float64), np.asarray(whb, np.float64)
    h = np.maximum((wha[:, 1] + whb[:, 1]) / 2, 1.0)
    dist = np.hypot(d[:, 0], d[:, 1]) / h
    along_x = np.abs(d[:, 0]) / np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-6)
    gap_x = (np.abs(d[:, 0]) - (wha[:, 0] + whb[:, 0]) / 2) / h
    gap_y = (np.abs(d[:, 1]) - (wha[:, 1] + whb[:, 1]) / 2) / h
    ratio = np.abs(np.log(np.maximum(wha[:, 1], 1.0) / np.maximum(whb[:, 1], 1.0)))
    l2 = _logit(s[:, 1])
    return np.stack([_logit(s[:, 0]), l2, _logit(s[:, s.shape[1] // 2]), _logit(s[:, -1]), dist, dist * dist,
                     along_x, gap_x, gap_y, ratio, _logit(np.minimum(peak_a, peak_b)), l2 * along_x], 1)


def load_links(path=None):
    """The shipped link model (config.links_model()) or the given file, as a vision.accept.Accept."""
    from pathlib import Path

    from edge_digits.config import links_model
    from edge_digits.vision.accept import Accept

    return Accept.from_file(Path(path) if path else links_model(), FEATURES, "affinity model", THRESHOLD)
