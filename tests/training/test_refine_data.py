"""The box refiner's training windows: targets that map back onto the true boxes, the detector's own boxes
among them, the same windows for a seed, and both box-net training scripts' one-line error on bad data."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_digits.data.pages import DigitBank, make_page
from edge_digits.training.refine import page_windows
from edge_digits.vision import refine
from edge_digits.vision.detector import load_detector


def test_page_windows_target_the_true_boxes(sample):
    bank = DigitBank.from_arrays((sample.x_train, sample.y_train))
    page = make_page(bank, np.random.default_rng(3), (640, 480), digit_size="medium")
    det = load_detector(threads=1, refine=False)
    x, t, ious, from_det, geo = page_windows(page, det, np.random.default_rng(4))
    n = len(page.boxes)
    assert n and x.shape[1:] == (refine.SIZE, refine.SIZE) and x.dtype == np.uint8 and len(x) == len(t) == len(ious)
    assert from_det.any() and (ious >= 0.1).all()
    assert (t[:, 2] > t[:, 0]).all() and (t[:, 3] > t[:, 1]).all()
    # every target, mapped back through its window, is a true box (the one the candidate overlaps most)
    back = np.concatenate([geo[:, :2] + t[:, :2] * geo[:, 2:], (t[:, 2:] - t[:, :2]) * geo[:, 2:]], 1)
    assert (np.abs(back[:, None, :] - page.boxes[None].astype(np.float32)).max(2).min(1) < 1e-3).all()
    assert (geo[:, 2] < geo[:, 3]).any()  # some windows are narrower than tall: a thin box's (refine.THIN)
    # the net's own boxes that overlap a digit: at least most of the true digits of an easy page
    assert from_det.sum() >= 0.5 * n
    x2, t2, _, _, _ = page_windows(page, det, np.random.default_rng(4))
    assert np.array_equal(x, x2) and np.array_equal(t, t2)


@pytest.mark.parametrize("name", ["train_refine.py", "train_boxfit.py"])
def test_box_net_scripts_with_bad_data_are_a_one_line_error(tmp_path, name):
    script = Path(__file__).resolve().parents[2] / "scripts" / name
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"not an npz")
    r = subprocess.run([sys.executable, str(script), "--data", str(bad), "--pages", "2", "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and r.stderr.strip().startswith("error:") and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()
