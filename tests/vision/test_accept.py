"""The accept model (vision.accept): its features, its file and its guards, and the shipped one."""
import json

import numpy as np
import pytest

from edge_digits.config import EdgeDigitsError, accept_model
from edge_digits.vision.accept import FEATURES, Accept, features, load_accept


def _probs(top, label=3):
    p = np.full((len(top), 10), 0.0)
    p[:, label] = top
    p[:, (label + 1) % 10] = 1 - np.asarray(top)
    return p


def test_features_describe_each_candidate():
    boxes = np.array([[10, 20, 30, 40], [0, 0, 20, 10]], float)
    raw = np.array([[10, 20, 30, 40], [0, 0, 10, 10]], float)
    a, b = _probs([0.9, 0.6]), np.concatenate([_probs([0.7]), _probs([0.6], label=5)])
    X = features(np.array([0.8, 0.3]), a, b, boxes, raw, 400)
    f = dict(zip(FEATURES, X.T))
    assert X.shape == (2, len(FEATURES)) and np.isfinite(X).all()
    assert np.allclose(f["logit_peak"], np.log([0.8 / 0.2, 0.3 / 0.7]))
    assert np.allclose(f["log_height"], np.log([40 / 400, 10 / 400]))
    assert np.allclose(f["log_aspect"], np.log([30 / 40, 2.0]))
    assert list(f["views_agree"]) == [1.0, 0.0]  # a 3 twice; a 3 and a 5
    assert np.allclose(f["refine_iou"], [1.0, 0.5])
    assert np.allclose(f["margin"][0], 0.8 - 0.2)  # views averaged: a 3 at 0.8, a 4 at 0.2
    assert np.allclose(f["logit_p_min_view"][0], np.log(0.7 / 0.3))
    assert features(np.zeros(0), np.zeros((0, 10)), np.zeros((0, 10)), [], np.zeros((0, 4)), 100).shape == (0, len(FEATURES))


def test_the_decision_is_a_threshold_on_the_fitted_probability():
    w = np.zeros(len(FEATURES))
    w[0] = 2.0
    m = Accept(w, -1.0, 0.5)
    X = np.zeros((3, len(FEATURES)))
    X[:, 0] = [0.0, 0.5, 1.0]  # 2x - 1: -1, 0, 1
    assert np.allclose(m.probability(X), 1 / (1 + np.exp([1.0, 0.0, -1.0])))
    assert list(m(X)) == [False, False, True]


def _write(tmp_path, **changes):
    d = {"features": list(FEATURES), "weights": [0.1] * len(FEATURES), "bias": 0.0}
    d.update(changes)
    p = tmp_path / "accept.json"
    p.write_text(json.dumps(d) if not isinstance(changes.get("raw"), str) else changes["raw"])
    return p


@pytest.mark.parametrize("changes", [{"raw": "not json {"}, {"raw": ""}, {"features": ["a", "b"]},
                                     {"weights": [0.1, 0.2]}, {"weights": [float("nan")] * len(FEATURES)},
                                     {"bias": "x"}, {"weights": None}])
def test_a_file_that_is_no_accept_model_is_a_one_line_error(tmp_path, changes):
    with pytest.raises(EdgeDigitsError) as e:
        load_accept(_write(tmp_path, **changes))
    assert "accept model" in str(e.value) and "\n" not in str(e.value)


def test_a_missing_file_is_a_one_line_error(tmp_path):
    with pytest.raises(EdgeDigitsError, match="no such accept model file"):
        load_accept(tmp_path / "nothing.json")
    (tmp_path / "raw.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(EdgeDigitsError, match="not an accept model"):
        load_accept(tmp_path / "raw.json")


def test_the_shipped_model_loads_and_trusts_a_strong_clear_candidate_over_a_faint_unsure_one():
    m = load_accept()
    assert accept_model().is_file() and m.weights.shape == (len(FEATURES),)
    box = np.array([[100, 100, 30, 44]], float)
    strong = features(np.array([0.9]), _probs([0.99]), _probs([0.99]), box, box, 480)
    faint = features(np.array([0.26]), _probs([0.35]), _probs([0.3], label=5), box, box + [8, 0, 0, 0], 480)
    assert m.probability(strong)[0] > 0.9 > m.probability(faint)[0]
    assert m(strong)[0] and not m(faint)[0]


def test_a_dot_among_digits_is_trusted_less_than_the_same_box_alone():
    # log_height_rel: a candidate a fifth as tall as the digits beside it (a pen dot, a speck) loses trust that
    # the same candidate alone in a frame keeps; the digits beside it keep theirs
    m = load_accept()
    i = FEATURES.index("log_height_rel")
    dot = np.array([[300, 130, 9, 9]], float)
    digits = np.array([[100 + 40 * k, 100, 28, 44] for k in range(4)], float)
    boxes = np.concatenate([digits, dot])
    peaks, probs = np.full(5, 0.6), _probs([0.9] * 5, label=6)
    X = features(peaks, probs, probs, boxes, boxes, 480)
    alone = features(peaks[:1], probs[:1], probs[:1], dot, dot, 480)
    assert X[-1, i] < np.log(0.25) and alone[0, i] == 0 and (X[:4, i] >= 0).all()
    assert m.probability(X[-1:])[0] < m.probability(alone)[0] - 0.05


def test_faint_specks_do_not_set_the_height_a_candidate_is_weighed_against():
    # a 12 MP photo holds many faint specks: the reference is the stronger half of the candidates (by peak),
    # so a speck among strong digits still stands short, however many specks there are
    i = FEATURES.index("log_height_rel")
    digits = np.array([[100 + 40 * k, 100, 28, 44] for k in range(3)], float)
    specks = np.array([[400 + 20 * k, 300, 8, 9] for k in range(6)], float)
    boxes = np.concatenate([digits, specks])
    peaks = np.array([0.9] * 3 + [0.26, 0.27, 0.28, 0.29, 0.3, 0.31])
    probs = _probs([0.9] * 9, label=6)
    X = features(peaks, probs, probs, boxes, boxes, 480)
    assert (X[3:, i] < np.log(0.25)).all() and (np.abs(X[:3, i]) < 1e-9).all()
