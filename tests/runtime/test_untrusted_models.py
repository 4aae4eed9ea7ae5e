"""Models nobody vouches for: wrong outputs, other input types, a fixed batch, runtime exceptions (issue 16)."""
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from edge_digits.cli import app
from edge_digits.config import EdgeDigitsError

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

cli = CliRunner()
ELEM = {np.float32: TensorProto.FLOAT, np.float16: TensorProto.FLOAT16, np.float64: TensorProto.DOUBLE,
        np.uint8: TensorProto.UINT8}


def tiny_onnx(path, classes=10, outputs=1, in_type=np.float32, batch="N"):
    """x (batch, 28, 28, 1) -> Cast to float -> Flatten -> MatMul (784, classes) -> Softmax."""
    w = np.random.default_rng(0).normal(size=(784, classes)).astype(np.float32) * 0.01
    nodes = [helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
             helper.make_node("Flatten", ["xf"], ["f"], axis=1),
             helper.make_node("MatMul", ["f", "w"], ["l"]),
             helper.make_node("Softmax", ["l"], ["y"], axis=-1)]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, classes])]
    for i in range(1, outputs):
        nodes.append(helper.make_node("Identity", ["y"], [f"y{i}"]))
        outs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, [batch, classes]))
    g = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", ELEM[in_type], [batch, 28, 28, 1])],
                          outs, [numpy_helper.from_array(w, "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


@pytest.mark.parametrize("kw,message", [({"classes": 5}, "output shape"), ({"classes": 1}, "output shape"),
                                        ({"outputs": 2}, "2 outputs")])
@pytest.mark.parametrize("rt", ["onnxruntime", "opencv"])
def test_wrong_outputs_refused_at_load(tmp_path, kw, message, rt):
    from edge_digits import runtime as runtimes

    p = tiny_onnx(tmp_path / "m.onnx", **kw)
    if rt == "opencv" and "outputs" in kw:
        pytest.skip("cv2.dnn keeps the graph's last output only")
    with pytest.raises(EdgeDigitsError, match=message):
        runtimes.RUNTIMES[runtimes.Runtime(rt)](p)
    r = cli.invoke(app, ["predict", "--model", str(p), "--runtime", rt, "--no-box-fit", str(p)])
    assert r.exit_code == 2 and message in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.uint8])
def test_onnx_input_types_are_cast(tmp_path, dtype):
    from edge_digits import runtime as runtimes

    runner = runtimes.load(tiny_onnx(tmp_path / "m.onnx", in_type=dtype))
    y = runner.predict(np.random.default_rng(1).integers(0, 255, (3, 28, 28), dtype=np.uint8))
    assert y.shape == (3, 10) and y.dtype == np.float32 and np.allclose(y.sum(1), 1, atol=1e-3)


def test_fixed_batch_of_one_loops(tmp_path):
    from edge_digits import runtime as runtimes

    p = tiny_onnx(tmp_path / "m.onnx", batch=1)
    free = runtimes.load(tiny_onnx(tmp_path / "free.onnx"))
    x = np.random.default_rng(2).integers(0, 255, (5, 28, 28), dtype=np.uint8)
    y = runtimes.load(p).predict(x)
    assert y.shape == (5, 10) and np.allclose(y, free.predict(x), atol=1e-5)


def test_onnxruntime_exceptions_at_run_are_one_line(tmp_path):
    from edge_digits import runtime as runtimes

    runner = runtimes.load(tiny_onnx(tmp_path / "m.onnx"))

    class Boom(Exception):  # like onnxruntime's Fail / InvalidArgument: not a RuntimeError
        pass

    class Sess:
        def run(self, *a):
            raise Boom("[ONNXRuntimeError] : 1 : FAIL : boom")

    runner.sess = Sess()
    with pytest.raises(EdgeDigitsError, match="onnxruntime failed to run it"):
        runner.predict(np.zeros((1, 28, 28), np.uint8))


def test_probe_needs_explicit_success(tmp_path, monkeypatch):
    """A child that exits 1 (an uncaught exception) is a failure, not a pass."""
    import subprocess

    from edge_digits import runtime as runtimes

    p = tiny_onnx(tmp_path / "m.onnx")
    runtimes.probe_in_subprocess(p, runtimes.Runtime.onnxruntime)  # a good file passes
    real = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: real(
        [a[0][0], "-c", "raise ValueError('in the child')"], **k))
    with pytest.raises(EdgeDigitsError, match="failed on this file .exit 1: ValueError: in the child"):
        runtimes.probe_in_subprocess(p, runtimes.Runtime.onnxruntime)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: real([a[0][0], "-c", "pass"], **k))
    with pytest.raises(EdgeDigitsError, match="failed on this file"):  # exit 0 but no word of success
        runtimes.probe_in_subprocess(p, runtimes.Runtime.onnxruntime)


@pytest.mark.parametrize("threads,message", [("0", "must be > 0"), ("99999", "at most 256"),
                                             ("4294967297", "at most 256")])
def test_threads_bounded(tmp_path, threads, message):
    t = time.perf_counter()
    for cmd in (["predict", "x.png"], ["camera", "--source", "x.png", "--headless"]):
        r = cli.invoke(app, [*cmd, "--threads", threads])
        assert r.exit_code == 2 and message in r.stderr and "Traceback" not in r.stderr, r.output
    from edge_digits import runtime as runtimes

    with pytest.raises(EdgeDigitsError, match=message):
        runtimes.load(tiny_onnx(tmp_path / "m.onnx"), threads=int(threads))
    assert time.perf_counter() - t < 20


def _evaluate_keras(path, in_shape, outputs):
    """`evaluate --dataset sample` of a tiny untrained Keras model of this input shape and output size."""
    import keras

    keras.Sequential([keras.Input(in_shape), keras.layers.Flatten(), keras.layers.Dense(outputs)]).save(path)
    return cli.invoke(app, ["evaluate", str(path), "--dataset", "sample"])


def test_keras_model_with_another_input_shape_names_the_model(tmp_path):
    pytest.importorskip("tensorflow")
    r = _evaluate_keras(tmp_path / "odd.keras", (32, 32, 3), 10)
    assert r.exit_code == 2 and "odd.keras" in r.stderr and "input shape" in r.stderr, r.output
    r = _evaluate_keras(tmp_path / "odd.keras", (28, 28, 1), 5)
    assert r.exit_code == 2 and "output shape" in r.stderr, r.output


def test_evaluate_8x8_model_needs_sklearn_digits(tmp_path):
    pytest.importorskip("tensorflow")
    r = _evaluate_keras(tmp_path / "d8.keras", (8, 8, 1), 10)
    assert r.exit_code == 2 and "--dataset sklearn-digits" in r.stderr, r.output
