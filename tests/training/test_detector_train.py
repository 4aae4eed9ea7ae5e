"""`train --arch detector` and the detector's export, end to end on a few pages (needs the full MNIST)."""
import json

import numpy as np

import pytest
from typer.testing import CliRunner

from conftest import full_data_or_skip
from edge_digits.cli import app

pytest.importorskip("tensorflow")
runner = CliRunner()


def test_detector_needs_the_full_mnist(tmp_path):
    r = runner.invoke(app, ["train", "--arch", "detector", "--data", "tests/data/mnist_sample.npz",
                            "--out", str(tmp_path / "d")])
    assert r.exit_code == 2 and "needs the full MNIST" in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "d").exists()


@pytest.mark.slow
def test_train_and_export_a_tiny_detector(tmp_path, monkeypatch):
    data = str(full_data_or_skip())
    r = runner.invoke(app, ["train", "--arch", "detector", "--data", data, "--camera-pages", "16", "--epochs", "1",
                            "--out", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["arch"] == "detector" and m["steps"] == 2 and m["dev"]["digits"] > 1000  # 300 dev pages scored
    assert (tmp_path / "run" / "history.csv").read_text().startswith("step,loss") and m["init"] is None
    # fine-tuning starts from the shipped net: it finds digits from its first step on
    r = runner.invoke(app, ["train", "--arch", "detector", "--data", data, "--camera-pages", "16", "--epochs", "1",
                            "--init", "export/detector/detector.keras", "--seed", "1", "--out", str(tmp_path / "ft")])
    assert r.exit_code == 0, r.output
    ft = json.loads((tmp_path / "ft" / "metrics.json").read_text())
    assert ft["init"].endswith("detector.keras") and ft["dev"]["recall"] > 0.5 > m["dev"]["recall"]
    # an untrained detector finds next to nothing, so its files all agree with Keras on the dev pages
    r = runner.invoke(app, ["export", str(tmp_path / "run"), "--int8", "--calib-samples", "8", "--data", data,
                            "--imgsz", "384x288", "--json", "--out", str(tmp_path / "exp")])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert {a["file"] for a in doc["artifacts"]} == {"detector.keras", "detector_fp16.tflite", "detector_int8.tflite",
                                                     "detector_fp32.onnx"}
    assert all(a["kind"] == "detector" for a in doc["artifacts"])
    # the run's record travels with the files, and no working folder is left behind
    assert json.loads((tmp_path / "exp" / "training_metrics.json").read_text()) == m
    assert (tmp_path / "exp" / "curves.png").is_file()
    assert not [f.name for f in (tmp_path / "exp").iterdir() if f.name.startswith(".")]
    from edge_digits.runtime.keras_ref import load_keras
    from edge_digits.vision.detector import load_detector

    for name in ("detector_fp16.tflite", "detector_int8.tflite"):  # written at --imgsz, trained at 320x240
        d = load_detector(tmp_path / "exp" / name)
        assert d.in_size == (384, 288)
    assert tuple(load_keras(tmp_path / "exp" / "detector.keras").input_shape[1:]) == (288, 384, 1)
    man = json.loads((tmp_path / "exp" / "manifest.json").read_text())
    assert {tuple(a["input"]["shape"]) for a in man["artifacts"]} == {(1, 288, 384, 1)}
    assert all(a["source"]["trained_input"] == [320, 240] and "384x288" in a["preprocess"]["image"] for a in man["artifacts"])


def test_the_detector_is_rebuilt_at_another_input_size_with_its_own_weights():
    from edge_digits.exporters.detector import at_size, is_detector
    from edge_digits.training.detector_model import build_detector

    net = build_detector((240, 320, 1))
    big = at_size(net, (448, 336))
    assert tuple(big.input_shape[1:]) == (336, 448, 1) and is_detector(big) and is_detector(net)
    assert all(np.array_equal(a, b) for a, b in zip(net.get_weights(), big.get_weights()))
    assert at_size(net, None) is net and at_size(net, (320, 240)) is net
    x = np.random.default_rng(0).integers(0, 256, (1, 240, 320, 1)).astype(np.float32)
    padded = np.zeros((1, 336, 448, 1), np.float32)
    padded[:, :240, :320] = x  # the same net: the maps away from the padding's reach agree
    a, b = np.asarray(net(x)["prob"]), np.asarray(big(padded)["prob"])
    assert np.allclose(a[0, :20, :30], b[0, :20, :30], atol=1e-4)
    assert not is_detector(build_detector((248, 320, 1))) and not is_detector(build_detector((240, 328, 1)))


def test_training_crops_keep_inputs_and_targets_aligned():
    """A crop's input pixels and its targets come from one window of the sample (the input window at
    STRIDE times the target window's corner), and most crops hold a digit's peak."""
    from edge_digits.training.detector import CROP_H, CROP_W, crop_batch
    from edge_digits.vision.detector import IN_H, IN_W, STRIDE

    rng = np.random.default_rng(0)
    hh, ww = IN_H // STRIDE, IN_W // STRIDE
    X = rng.integers(0, 256, (4, IN_H, IN_W), dtype=np.uint8)  # noise: every window is unique
    Y = rng.random((4, hh, ww, 9)).astype(np.float16) * 0.9
    for i in range(4):
        Y[i, rng.integers(0, hh), rng.integers(0, ww), 0] = 1.0  # one digit's peak a sample
    positives = [np.argwhere(t[..., 0] >= 0.999) for t in Y]
    idx = np.arange(4).repeat(15)
    xb, yb = crop_batch(X, Y, idx, positives, rng)
    ch, cw = CROP_H // STRIDE, CROP_W // STRIDE
    assert xb.shape == (60, CROP_H, CROP_W) and yb.shape == (60, ch, cw, 9)
    for i, xc, yc in zip(idx, xb, yb):
        corners = [(r, c) for r in range(hh - ch + 1) for c in range(ww - cw + 1)
                   if np.array_equal(Y[i, r: r + ch, c: c + cw], yc)]
        assert len(corners) == 1
        r, c = corners[0]
        assert np.array_equal(X[i, r * STRIDE: r * STRIDE + CROP_H, c * STRIDE: c * STRIDE + CROP_W], xc)
    with_digit = sum(bool((yc[..., 0] >= 0.999).any()) for yc in yb)
    assert with_digit >= 0.6 * len(yb)  # NEAR_DIGIT (75%) of the crops are centred near a digit


def test_the_detector_net_gives_quarter_resolution_maps_at_any_multiple_of_8():
    """The net answers on a grid of STRIDE input px at its input size and at sizes that are not multiples
    of its coarsest stride (32): the training windows, and frames of other shapes."""
    from edge_digits.training.detector_model import build_detector, model_stats
    from edge_digits.vision.detector import IN_H, IN_W, STRIDE

    model = build_detector((None, None, 1))
    for h, w in ((IN_H, IN_W), (160, 224), (120, 168), (16, 24)):
        out = model(np.zeros((1, h, w, 1), np.float32))
        assert tuple(out["prob"].shape) == (1, h // STRIDE, w // STRIDE, 2)
        assert tuple(out["geom"].shape) == (1, h // STRIDE, w // STRIDE, 4)
    stats = model_stats(build_detector((IN_H, IN_W, 1)))
    assert stats["params"] < 100_000 and stats["macs"] < 80e6  # an int8 file far under the 300 KB goal


@pytest.mark.parametrize("args, msg", [(["--arch", "edge", "--init", "export/detector/detector.keras"], "--arch detector only"),
                                       (["--arch", "detector", "--init", "{missing}"], "no such model file"),
                                       (["--arch", "edge", "--focus", "pen=pencil:0.3"], "--arch detector only"),
                                       (["--arch", "detector", "--focus", "pen=pencil"], "CONDITION=VALUE:SHARE"),
                                       (["--arch", "detector", "--focus", "pen=quill:0.3"], "CONDITION=VALUE:SHARE"),
                                       (["--arch", "detector", "--focus", "pen=pencil:1.5"], "CONDITION=VALUE:SHARE"),
                                       (["--arch", "detector", "--focus", "pen=pencil:nan"], "CONDITION=VALUE:SHARE"),
                                       (["--arch", "detector", "--focus", "pen=pencil:-0.3"], "CONDITION=VALUE:SHARE")])
def test_init_is_refused_in_one_line_where_it_cannot_apply(tmp_path, args, msg):
    args = [str(tmp_path / "none.keras") if a == "{missing}" else a for a in args]
    r = runner.invoke(app, ["train", *args, "--out", str(tmp_path / "d")])
    assert r.exit_code == 2 and msg in r.stderr and "Traceback" not in r.output, r.output
    assert not (tmp_path / "d").exists()


def test_init_weights_come_from_a_detector_file_only(tmp_path):
    from edge_digits.config import EdgeDigitsError
    from edge_digits.training.detector import _init_weights
    from edge_digits.training.detector_model import build_detector

    model = build_detector((None, None, 1))
    got = _init_weights("export/detector/detector.keras", model)
    assert [w.shape for w in got] == [w.shape for w in model.get_weights()]
    with pytest.raises(EdgeDigitsError, match="not a detector of this architecture"):
        _init_weights("export/edge.keras", model)
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(EdgeDigitsError, match="not a Keras model file"):
        _init_weights(tmp_path / "junk.keras", model)


def test_focus_forces_its_condition_on_its_share_of_the_training_pages():
    from edge_digits.data.mnist import load_mnist
    from edge_digits.training.detector import _init, focus_page, parse_focus

    d = load_mnist("tests/data/mnist_sample.npz")
    _init([(d.x_train, d.y_train)])
    focus = parse_focus("pen=pencil:0.5")
    assert focus == ({"pen": "pencil"}, 0.5)
    plain = [focus_page(s).conditions["pen"] for s in range(60)]
    got = [focus_page(s, focus).conditions["pen"] for s in range(60)]
    forced = [np.random.default_rng(s + 13).random() < 0.5 for s in range(60)]
    assert 20 <= sum(forced) <= 40
    assert all(g == "pencil" for g, f in zip(got, forced) if f)
    assert all(g == p for g, p, f in zip(got, plain, forced) if not f)  # the other pages as without focus
    assert sum(g == "pencil" for g in got) > sum(p == "pencil" for p in plain) + 10
    assert all(focus_page(s, ({"pen": "pencil"}, 1.0)).conditions["pen"] == "pencil" for s in range(5))
