"""The installed wheel is a working edge device: built from this checkout, installed into a clean venv (no
system site-packages, no extras, so no TensorFlow), run from another folder. About a minute with PyPI
reachable (pip's cache makes it faster), so it runs as its own CI step (.ci/run: EDGE_DIGITS_WHEEL_TEST=1),
not in `make test`."""
import os
import subprocess
import sys
import zipfile

import pytest

from conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not os.environ.get("EDGE_DIGITS_WHEEL_TEST"),
                                                   reason="set EDGE_DIGITS_WHEEL_TEST=1 (its own CI step)")]
SHIPPED = ["edge_digits/models/manifest.json", "edge_digits/models/edge_int8.tflite",
           "edge_digits/models/camera/manifest.json", "edge_digits/models/camera/edge-cam_int8.tflite",
           "edge_digits/models/boxfit/manifest.json", "edge_digits/models/boxfit/box-fit_int8.tflite",
           "edge_digits/models/detector/detector_fp16.tflite", "edge_digits/models/detector/detector_int8.tflite",
           "edge_digits/models/refine/manifest.json", "edge_digits/models/refine/box-refine_int8.tflite",
           "edge_digits/models/accept/accept.json", "edge_digits/models/links/links.json",
           "edge_digits/models/mnist_sample.npz"]


def _run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kw)
    assert r.returncode == 0, f"{cmd}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r


def test_wheel_installs_and_runs_without_tensorflow(tmp_path):
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "w"),
          str(REPO)], cwd=tmp_path)
    wheel = next((tmp_path / "w").glob("edge_digits-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(SHIPPED) <= names
    assert not any(n.endswith(".keras") for n in names)
    assert wheel.stat().st_size < 3 * 2**20
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])  # clean: no --system-site-packages
    py, exe = venv / "bin" / "python", venv / "bin" / "edge-digits"
    _run([str(py), "-m", "pip", "install", "-q", str(wheel)])
    r = _run([str(py), "-c", "import importlib.util as u; print(u.find_spec('tensorflow') is None)"])
    assert r.stdout.strip() == "True"
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EDGE_DIGITS_MODELS")}
    img = work / "frame.png"
    _run([str(py), "-c", "import cv2, sys; c = cv2.VideoCapture(sys.argv[1]); ok, f = c.read(); "
          "assert ok; cv2.imwrite(sys.argv[2], f)", str(REPO / "tests/data/demo.mp4"), str(img)], cwd=work, env=env)
    r = _run([str(exe), "predict", str(img)], cwd=work, env=env)
    assert "frame.png:" in r.stdout and "no digits" not in r.stdout
    r = _run([str(exe), "camera", "--source", str(REPO / "tests/data/demo.mp4"), "--headless", "--json",
              "--max-frames", "5"], cwd=work, env=env)
    assert len(r.stdout.splitlines()) == 5
    r = _run([str(exe), "evaluate", "--dataset", "sample"], cwd=work, env=env)
    assert "accuracy" in r.stdout
    r = subprocess.run([str(exe), "train", "--dataset", "sample"], cwd=work, env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "edge-digits[train]" in r.stderr and "Traceback" not in r.stderr
