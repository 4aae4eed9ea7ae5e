"""`train --arch detector` and the detector's export, end to end on a few pages (needs the full MNIST)."""
import json

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
    assert (tmp_path / "run" / "history.csv").read_text().startswith("step,loss")
    # an untrained detector finds next to nothing, so its files all agree with Keras on the dev pages
    r = runner.invoke(app, ["export", str(tmp_path / "run"), "--int8", "--calib-samples", "8", "--data", data,
                            "--json", "--out", str(tmp_path / "exp")])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert {a["file"] for a in doc["artifacts"]} == {"detector.keras", "detector_int8.tflite", "detector_fp32.onnx"}
    assert all(a["kind"] == "detector" for a in doc["artifacts"])
    from edge_digits.vision.detector import load_detector

    d = load_detector(tmp_path / "exp" / "detector_int8.tflite")
    assert d.in_size == (320, 240)
