"""Every runtime in RUNTIMES behind one predict() interface, provider selection, and bad input."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from edge_digits.runtime import manifest as artifacts
from edge_digits import runtime as runtimes
from edge_digits.config import EdgeDigitsError, Format, Runtime

CPU, CUDA, TRT = "CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"


def artifact(folder, fmt: Format, precision="fp32"):
    m = artifacts.read_manifest(folder)
    return folder / next(a["file"] for a in m["artifacts"] if a["format"] == fmt.value and a["precision"] == precision)


@pytest.mark.parametrize("rt", list(Runtime), ids=lambda r: r.value)
def test_every_runtime_predicts_probabilities_like_keras(exported, sample, rt):
    fmt = next(f for f, rts in runtimes.FORMAT_RUNTIMES.items() if rt in rts)
    r = runtimes.load(artifact(exported, fmt), rt, threads=1)
    x = sample.x_test[:300]
    p = r.predict(x)
    assert p.shape == (300, 10) and p.dtype == np.float32
    assert np.allclose(p.sum(1), 1, atol=1e-3)
    # the reference: the Keras model called directly on x / 255, not through any runner
    import keras

    model = keras.models.load_model(artifact(exported, Format.keras), compile=False)
    ref = np.asarray(model(x[..., None].astype(np.float32) / 255.0, training=False))
    assert (p.argmax(1) == ref.argmax(1)).mean() >= 0.99
    assert np.abs(p - ref).max() < 1e-3


def test_int8_runner_quantizes_from_the_input_block(exported, sample):
    r = runtimes.load(artifact(exported, Format.tflite, "int8"))
    d = r.interp.get_input_details()[0]
    scale, zp = d["quantization"]
    assert d["dtype"] == np.int8 and r.lut.dtype == np.int8
    # every pixel value, dequantized with the model's own block, comes back as pixel / 255 (to half a step)
    back = (r.lut.astype(np.float64) - zp) * scale
    assert np.abs(back - np.arange(256) / 255.0).max() <= scale / 2 + 1e-9
    assert r.predict(sample.x_test[:5]).shape == (5, 10)


@pytest.mark.parametrize("available,expect,note", [
    ([CPU], [CPU], "fell back from Tensorrt, CUDA"),
    ([CUDA, CPU], [CUDA, CPU], "using CUDA"),
    ([TRT, CUDA, CPU], [TRT, CUDA, CPU], "using Tensorrt"),
    (["OpenVINOExecutionProvider", CPU], ["OpenVINOExecutionProvider", CPU], "using OpenVINO"),
])
def test_auto_provider_selection_with_faked_lists(available, expect, note):
    chosen, msg = runtimes.select_providers("auto", available)
    assert chosen == expect and note in msg


def test_explicit_providers():
    assert runtimes.select_providers("cuda,cpu", [CUDA, CPU])[0] == [CUDA, CPU]
    assert runtimes.select_providers(["CPUExecutionProvider"], [CPU])[0] == [CPU]
    with pytest.raises(EdgeDigitsError, match="'cuda' is not available here"):
        runtimes.select_providers("cuda", [CPU])
    with pytest.raises(EdgeDigitsError, match="unknown provider 'quantum'"):
        runtimes.select_providers("quantum", [CPU])


@pytest.mark.parametrize("batch,message", [
    (np.zeros((2, 28, 28), np.float32), "dtype is float32"),
    (np.zeros((2, 32, 32), np.uint8), r"shape is \(2, 32, 32\)"),
    (np.zeros((0, 28, 28), np.uint8), "shape is"),
    ([[0] * 28] * 28, "numpy array"),
])
def test_bad_batches(exported, batch, message):
    r = runtimes.load(artifact(exported, Format.tflite, "int8"))
    with pytest.raises(EdgeDigitsError, match=message):
        r.predict(batch)


def _copy(exported, tmp_path, fmt, precision="fp32"):
    src = artifact(exported, fmt, precision)
    dst = tmp_path / src.name
    shutil.copyfile(src, dst)
    return dst


@pytest.mark.parametrize("fmt", [Format.tflite, Format.onnx, Format.keras], ids=lambda f: f.value)
@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_model_files(exported, tmp_path, fmt, damage):
    p = _copy(exported, tmp_path, fmt)
    raw = p.read_bytes()
    p.write_bytes({"truncate": raw[: len(raw) // 2], "garbage": b"\x13\x37" * 500, "empty": b""}[damage])
    with pytest.raises(EdgeDigitsError, match=p.name):
        runtimes.load(p)


def test_random_corruption_never_crashes_the_process(exported, tmp_path):
    """Flip bytes all over the int8 model: every load either works or fails with a clear error."""
    good = _copy(exported, tmp_path, Format.tflite, "int8").read_bytes()
    rng = np.random.default_rng(0)
    for i in range(8):
        raw = bytearray(good)
        for pos in rng.integers(8, len(raw), 40):
            raw[pos] = int(rng.integers(0, 256))
        p = tmp_path / f"bad{i}.tflite"
        p.write_bytes(bytes(raw))
        try:
            runtimes.load(p).predict(np.zeros((3, 28, 28), np.uint8))
        except EdgeDigitsError as e:
            assert p.name in str(e)


def test_wrong_input_shape_model(tmp_path):
    tf = pytest.importorskip("tensorflow")
    import keras

    m = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    p = tmp_path / "big.tflite"
    p.write_bytes(tf.lite.TFLiteConverter.from_keras_model(m).convert())
    with pytest.raises(EdgeDigitsError, match=r"input shape .*32, 32.*expected \(N, 28, 28, 1\)"):
        runtimes.load(p)


@pytest.mark.parametrize("kwargs,message", [
    ({"runtime": "tensorrt-llm"}, "unknown runtime"),
    ({"runtime": "litert", "fmt": Format.onnx}, "cannot run .onnx"),
    ({"threads": 0}, "--threads must be > 0"),
    ({"providers": "quantum", "fmt": Format.onnx}, "unknown provider"),
    ({"providers": "cuda", "runtime": "litert"}, "onnxruntime runtime only"),
])
def test_bad_runtime_arguments(exported, kwargs, message):
    fmt = kwargs.pop("fmt", Format.tflite)
    with pytest.raises(EdgeDigitsError, match=message):
        runtimes.load(artifact(exported, fmt), **kwargs)


def test_missing_and_unknown_files(tmp_path):
    with pytest.raises(EdgeDigitsError, match="no such model file"):
        runtimes.load(tmp_path / "nope.tflite")
    (tmp_path / "m.pt").write_bytes(b"x")
    with pytest.raises(EdgeDigitsError, match="unknown model type '.pt'"):
        runtimes.load(tmp_path / "m.pt")


def test_hash_mismatch_warns_or_fails_when_strict(exported, tmp_path, capsys):
    for f in exported.iterdir():
        shutil.copy(f, tmp_path / f.name)
    m = json.loads((tmp_path / "manifest.json").read_text())
    for a in m["artifacts"]:
        a["sha256"] = "0" * 64
    (tmp_path / "manifest.json").write_text(json.dumps(m))
    p = artifact(tmp_path, Format.tflite, "int8")
    runtimes.load(p)
    assert "differs from its manifest" in capsys.readouterr().err
    with pytest.raises(EdgeDigitsError, match="differs from its manifest"):
        runtimes.load(p, strict=True)


def test_unsupported_combination_is_refused_with_its_reason(exported):
    with pytest.raises(EdgeDigitsError, match="cv2.dnn cannot load QDQ int8 ONNX"):
        runtimes.load(artifact(exported, Format.onnx, "int8"), Runtime.opencv)


def test_cli_strict_refuses_a_tampered_model(exported, tmp_path):
    from typer.testing import CliRunner

    from edge_digits.cli import app

    for f in exported.iterdir():
        shutil.copy(f, tmp_path / f.name)
    p = artifact(tmp_path, Format.tflite, "int8")
    raw = bytearray(p.read_bytes())
    raw[-1] ^= 0xFF
    p.write_bytes(bytes(raw))
    r = CliRunner().invoke(app, ["evaluate", str(p), "--dataset", "sample", "--strict"])
    assert r.exit_code == 2 and "differs from its manifest" in r.output
    r = CliRunner().invoke(app, ["predict", "--model", str(p), "--strict", str(p)])
    assert r.exit_code == 2 and "differs from its manifest" in r.output
