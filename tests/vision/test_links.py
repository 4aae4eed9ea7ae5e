"""The link model (vision.links): its pair features, the decision it makes in decode, its file and its guards,
and the shipped one."""
import json

import numpy as np
import pytest

from edge_digits.config import EdgeDigitsError, links_model
from edge_digits.training.detector_targets import encode_targets, perfect_maps
from edge_digits.vision import detector as det
from edge_digits.vision.accept import Accept
from edge_digits.vision.links import FEATURES, THRESHOLD, load_links, pair_features


def _pair(dx, dy, h=40.0, w=24.0, link=0.9):
    samples = np.full((1, 5), link)
    return pair_features(samples, np.array([[100.0, 100.0]]), np.array([[100.0 + dx, 100.0 + dy]]),
                         np.array([[w, h]]), np.array([[w, h]]), np.array([0.8]), np.array([0.6]))


def test_pair_features_describe_the_gap_in_digit_heights_whatever_the_scale():
    f = dict(zip(FEATURES, _pair(36, 0)[0]))
    assert _pair(36, 0).shape == (1, len(FEATURES))
    assert f["distance"] == pytest.approx(36 / 40) and f["gap_x"] == pytest.approx((36 - 24) / 40)
    assert f["along_x"] == pytest.approx(1.0) and f["log_height_ratio"] == 0
    assert f["logit_peak_min"] == pytest.approx(np.log(0.6 / 0.4))
    assert np.allclose(_pair(36, 0), _pair(72, 0, h=80, w=48))  # twice as big and twice as far: the same pair
    assert dict(zip(FEATURES, _pair(0, 50)[0]))["along_x"] == pytest.approx(0.0)  # one above the other


def _row(gaps):
    """A row of 40 px digits with these gaps (px) between them, one true number; its perfect maps."""
    boxes, x = [], 20.0
    for g in [0, *gaps]:
        x += g
        boxes.append([x, 100, 24, 40])
        x += 24
    t = encode_targets(np.array(boxes), [list(range(len(boxes)))], np.zeros((0, 4)), (320, 240), (320, 240))
    return perfect_maps(t)


def test_decode_links_the_pairs_the_model_accepts():
    prob, geom = _row([8, 8, 8])
    w = np.zeros(len(FEATURES))
    w[FEATURES.index("gap_x")] = -20.0  # linked while the gap is under 0.25 digit heights
    gap_model = Accept(w, 5.0, 0.5)
    assert len(det.decode(prob, geom, links=gap_model)[1]) == 1
    never = Accept(np.zeros(len(FEATURES)), -10.0, 0.5)
    assert len(det.decode(prob, geom, links=never)[1]) == 4
    prob, geom = _row([8, 30, 8])  # a gap of 0.75 heights in the middle: two numbers for this model
    assert sorted(len(n) for n in det.decode(prob, geom, links=gap_model)[1]) == [2, 2]
    pairs = []
    det.decode(prob, geom, pairs_out=pairs)  # the pairs weighed, for the fit, with or without a model
    assert len(pairs) == 1 and pairs[0][2].shape == (len(pairs[0][0]), len(FEATURES))


def test_the_shipped_model_loads_and_links_a_tight_row_but_not_a_far_neighbour():
    m = load_links()
    assert links_model().is_file() and m.weights.shape == (len(FEATURES),)
    assert m(_pair(28, 0))[0] and not m(_pair(28, 0, link=0.02))[0]
    assert not m(_pair(0, 60, link=0.3))[0]  # one digit above another, the link map unsure: two numbers


def test_the_readers_load_it():
    d = det.load_detector(threads=1)
    assert d.links is not None and d.links.threshold == THRESHOLD
    assert det.load_detector(threads=1, links=False).links is None


@pytest.mark.parametrize("changes", [{"features": ["x"] * len(FEATURES)}, {"weights": [0.1]}, {"bias": None},
                                     {"weights": [float("nan")] * len(FEATURES)}])
def test_a_file_that_is_no_link_model_is_a_one_line_error(tmp_path, changes):
    d = {"features": list(FEATURES), "weights": [0.1] * len(FEATURES), "bias": 0.0, **changes}
    (tmp_path / "links.json").write_text(json.dumps(d))
    with pytest.raises(EdgeDigitsError) as e:
        load_links(tmp_path / "links.json")
    assert "affinity model" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(EdgeDigitsError, match="no such affinity model file"):
        load_links(tmp_path / "nothing.json")
