"""The link model's fit (training.links): pairs labelled by the true numbers, a fit vision.links reads back,
and the script's one-line errors."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_digits.data.pages import DigitBank, make_page
from edge_digits.training.detector_targets import encode_targets, perfect_maps
from edge_digits.training.links import _labels, page_pairs
from edge_digits.vision.links import FEATURES

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_links.py"


def test_labels_link_digits_of_one_number_and_never_a_speck():
    truth = np.array([[0, 0, 20, 30], [25, 0, 20, 30], [100, 0, 20, 30]], float)
    number_of = np.array([0, 0, 1])
    found = np.array([[1, 0, 20, 30], [25, 1, 20, 30], [99, 0, 20, 30], [60, 0, 8, 8], [30, 0, 8, 30]], float)
    i, j = np.array([0, 1, 0, 1, 0]), np.array([1, 2, 3, 3, 4])
    # one number; two numbers; a digit and a speck on nothing; a digit and a piece of a digit: left out
    assert list(_labels(found, truth, number_of, np.zeros((0, 4)), i, j)) == [1, 0, 0, 0, -1]


def test_page_pairs_of_perfect_maps_are_labelled_as_the_link_map_draws_them(sample):
    bank = DigitBank.from_arrays((sample.x_train, sample.y_train))
    page = make_page(bank, np.random.default_rng(5), (320, 240), layout="table", digit_size="small")
    t = encode_targets(page.boxes, [n.digits for n in page.numbers], page.ignore, (320, 240), (320, 240))
    maps = perfect_maps(t)
    X, y = page_pairs(page, lambda x: maps if x.shape == (240, 320) else None, np.random.default_rng(0),
                      window=False)
    assert X.shape == (len(y), len(FEATURES)) and y.any() and np.isfinite(X).all()
    link = X[:, FEATURES.index("logit_link_2nd")]
    assert (link[y] > 0).mean() > 0.9 and (link[~y] < 0).mean() > 0.9


@pytest.mark.parametrize("args, msg", [(["--pages", "0"], "--pages"), (["--workers", "-1"], "--workers"),
                                       (["--detector", "{missing}"], "no such detector file"),
                                       (["--data", "{bad}"], "error:")])
def test_the_script_refuses_bad_input_in_one_line(tmp_path, args, msg):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"not an npz")
    args = [str(bad) if a == "{bad}" else str(tmp_path / "none.tflite") if a == "{missing}" else a for a in args]
    r = subprocess.run([sys.executable, str(SCRIPT), *args, "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.startswith("error:") and msg in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "out" / "links.json").exists()


def test_pairs_come_from_the_shipped_detector_by_default_and_another_file_when_given(sample):
    # a fresh worker with no detector file given must load the shipped one (a cache keyed by the file name
    # once took None for "already loaded" and ended in a KeyError); another file then replaces it
    from edge_digits.config import detector_int8_model
    from edge_digits.training import links

    links._W.clear()
    sets = [(sample.x_train, sample.y_train)]
    X, y = links.make_pairs(sets, 2, workers=1)
    assert X.shape == (len(y), len(FEATURES)) and len(y) and np.isfinite(X).all()
    X2, _ = links.make_pairs(sets, 2, workers=1, detector=str(detector_int8_model()))
    assert links._W["files"] == str(detector_int8_model()) and not np.array_equal(X, X2)
