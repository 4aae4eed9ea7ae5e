"""The accept model's fit (training.accept): candidates labelled as the scorer counts them, a fit that
folds its standardisation into weights vision.accept reads back, and the script's one-line errors."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_digits import runtime
from edge_digits.config import EdgeDigitsError, camera_model
from edge_digits.data.pages import DigitBank, make_page
from edge_digits.training.accept import f1_threshold, fit, page_candidates
from edge_digits.vision.accept import FEATURES, Accept
from edge_digits.vision.detector import load_detector

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_accept.py"


def test_page_candidates_are_the_readers_candidates_labelled_by_the_true_digits(sample):
    bank = DigitBank.from_arrays((sample.x_train, sample.y_train))
    page = make_page(bank, np.random.default_rng(3), (640, 480), digit_size="medium")
    X, y = page_candidates(page, load_detector(threads=1, accept=False), runtime.load(camera_model(), threads=1))
    assert X.shape == (len(y), len(FEATURES)) and y.dtype == bool and np.isfinite(X).all()
    assert y.sum() >= 0.5 * len(page.boxes) and y.sum() <= len(page.boxes)  # one candidate a digit at most
    # another classifier file reads the same candidates: its own probabilities are features
    other = camera_model().with_name("edge-cam_fp32.tflite")
    X2, y2 = page_candidates(page, load_detector(threads=1, accept=False), runtime.load(other, threads=1))
    assert (y2 == y).all() and not np.array_equal(X2, X)


def test_fit_separates_and_reads_back_as_an_accept_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, len(FEATURES))) * 3 + 5  # far from standard: the folding must undo it
    y = X[:, 0] + 0.5 * X[:, 3] > 7.5 + rng.normal(0, 0.3, 2000)
    m = fit(X, y)
    a = Accept(np.array(m["weights"]), m["bias"], m["fit"]["f1_threshold"])
    assert m["features"] == list(FEATURES) and (a(X) == y).mean() > 0.95
    assert m["fit"]["kept_digits"] + m["fit"]["kept_not_digits"] == int(a(X).sum())
    with pytest.raises(EdgeDigitsError, match="too few candidates"):
        fit(X[:50], y[:50])
    with pytest.raises(EdgeDigitsError, match="too few candidates"):
        fit(X, np.ones(len(X), bool))


def test_f1_threshold_picks_the_best_cut():
    p = np.array([0.1, 0.2, 0.6, 0.7, 0.8, 0.9])
    y = np.array([False, False, True, True, True, True])
    t, f1 = f1_threshold(p, y)
    assert 0.2 <= t < 0.6 and f1 == 1.0


@pytest.mark.parametrize("args, msg", [(["--pages", "0"], "--pages"), (["--workers", "-1"], "--workers"),
                                       (["--data", "{bad}"], "error:"),
                                       (["--detector", "{missing}"], "no such detector file"),
                                       (["--classifier", "{missing}"], "no such classifier file")])
def test_the_script_refuses_bad_input_in_one_line(tmp_path, args, msg):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"not an npz")
    args = [str(bad) if a == "{bad}" else str(tmp_path / "none.tflite") if a == "{missing}" else a for a in args]
    r = subprocess.run([sys.executable, str(SCRIPT), *args, "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.startswith("error:") and msg in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "out" / "accept.json").exists()


def test_candidates_are_read_by_the_classifier_given_even_in_one_process(sample):
    # workers=1 runs in this process, where a previous fit's reader is cached: another file must replace it
    from edge_digits.training.accept import make_candidates

    sets = [(sample.x_train, sample.y_train)]
    a = make_candidates(sets, 2, workers=1)
    b = make_candidates(sets, 2, workers=1, classifier=str(camera_model().with_name("edge-cam_fp32.tflite")))
    assert (a[1] == b[1]).all() and not np.array_equal(a[0], b[0])
