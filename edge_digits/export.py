"""Export a trained Keras model to TFLite and ONNX (float and int8), and prove every file works.

One function per format+precision, listed in EXPORTERS: the single table the CLI, the tests and bench read.
Every artifact is written into a temporary folder, verified through its own runtime against the Keras model,
and only then moved into the output folder with its manifest entry; a failing export leaves nothing behind.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from . import artifacts, reports
from .config import EdgeDigitsError, ExportConfig, Format, Precision
from .data import calibration_samples, load_eval_set, load_mnist, load_sample
from .tfenv import load_keras

OPSET = 17


@dataclass
class Source:
    model: object  # keras.Model
    path: Path
    arch: str
    metrics: dict


@dataclass(frozen=True)
class Exporter:
    format: Format
    precision: Precision
    write: Callable[[Source, Path, np.ndarray], None]  # (source, destination file, calibration uint8 images)

    @property
    def filename_suffix(self) -> str:
        return f"{self.precision.value}.{self.format.value}"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _serving_fn(model):
    import tensorflow as tf

    # An explicit input signature with a free batch dimension: tf2onnx's from_keras breaks on Keras 3, and
    # the TFLite converter keeps the batch resizable only when the signature says None.
    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32, name="input")
    return tf.function(lambda x: model(x, training=False), input_signature=[spec])


class _QuietConverter:
    """Keras' export step prints its signature to stdout; keep stdout clean for --json users."""

    def __init__(self, conv):
        self.conv = conv

    def __getattr__(self, k):
        return getattr(self.conv, k)

    def __setattr__(self, k, v):
        if k == "conv":
            object.__setattr__(self, k, v)
        else:
            setattr(self.conv, k, v)

    def convert(self) -> bytes:
        with contextlib.redirect_stdout(sys.stderr if os.environ.get("EDGE_DIGITS_DEBUG") else io.StringIO()):
            return self.conv.convert()


def _tflite_converter(src: Source):
    import tensorflow as tf

    # from_keras_model freezes the weights into the file and keeps the batch dimension free (-1).
    return _QuietConverter(tf.lite.TFLiteConverter.from_keras_model(src.model))


def _float01(x: np.ndarray) -> np.ndarray:
    return (x.astype(np.float32) / 255.0)[..., None]


def write_tflite_fp32(src: Source, dst: Path, calib: np.ndarray) -> None:
    dst.write_bytes(_tflite_converter(src).convert())


def write_tflite_fp16(src: Source, dst: Path, calib: np.ndarray) -> None:
    import tensorflow as tf

    conv = _tflite_converter(src)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]
    dst.write_bytes(conv.convert())


def write_tflite_int8(src: Source, dst: Path, calib: np.ndarray) -> None:
    """Full-integer: int8 weights and activations, int8 input and output."""
    import tensorflow as tf

    conv = _tflite_converter(src)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([_float01(calib[i:i + 1])] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    dst.write_bytes(conv.convert())


def write_onnx_fp32(src: Source, dst: Path, calib: np.ndarray) -> None:
    import tf2onnx

    fn = _serving_fn(src.model)
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=OPSET)
    dst.write_bytes(proto.SerializeToString())


def write_onnx_int8(src: Source, dst: Path, calib: np.ndarray) -> None:
    """QDQ static quantization, per-channel int8 weights, with ONNX Runtime's own tools."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    tmp = dst.parent
    fp32, pre = tmp / ".int8_src.onnx", tmp / ".int8_pre.onnx"
    write_onnx_fp32(src, fp32, calib)
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    import onnxruntime as ort

    name = ort.InferenceSession(str(pre), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(_float01(calib[i:i + 1]) for i in range(len(calib)))

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {name: x}

    # U8S8 (uint8 activations, int8 weights) is ONNX Runtime's recommended and fastest CPU combination.
    quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    fp32.unlink(missing_ok=True)
    pre.unlink(missing_ok=True)


def write_keras(src: Source, dst: Path, calib: np.ndarray) -> None:
    shutil.copyfile(src.path, dst)


EXPORTERS: list[Exporter] = [
    Exporter(Format.keras, Precision.fp32, write_keras),
    Exporter(Format.tflite, Precision.fp32, write_tflite_fp32),
    Exporter(Format.tflite, Precision.fp16, write_tflite_fp16),
    Exporter(Format.tflite, Precision.int8, write_tflite_int8),
    Exporter(Format.onnx, Precision.fp32, write_onnx_fp32),
    Exporter(Format.onnx, Precision.int8, write_onnx_int8),
]


def selected_exporters(cfg: ExportConfig) -> list[Exporter]:
    wanted = {Precision.fp32} | ({Precision.fp16} if cfg.fp16 else set()) | ({Precision.int8} if cfg.int8 else set())
    return [e for e in EXPORTERS if e.format == Format.keras
            or (e.format in cfg.formats and e.precision in wanted)]


def load_source(path: Path) -> Source:
    path = Path(path)
    run = path if path.is_dir() else path.parent
    model_path = path / "model.keras" if path.is_dir() else path
    if not model_path.is_file():
        raise EdgeDigitsError(f"{model_path}: no such model file (give a .keras file or a run folder)")
    model = load_keras(model_path)
    if tuple(model.input_shape[1:]) != (28, 28, 1):
        raise EdgeDigitsError(f"{model_path}: input shape {model.input_shape}, export takes 28x28x1 MNIST models")
    metrics = {}
    if (run / "metrics.json").is_file():
        metrics = json.loads((run / "metrics.json").read_text())
    arch = metrics.get("arch") or model.name
    return Source(model, model_path, arch, metrics)


def _io_block(runner, which: str) -> dict:
    """Input/output description read back from the written file itself."""
    from .runtimes import LiteRTRunner, OnnxRuntimeRunner

    if isinstance(runner, LiteRTRunner):
        d = (runner.interp.get_input_details() if which == "input" else runner.interp.get_output_details())[0]
        scale, zp = d["quantization"]
        shape = [None if s == -1 else int(s) for s in d["shape_signature"]]
        return {"name": d["name"], "shape": shape, "dtype": np.dtype(d["dtype"]).name, "layout": "NHWC",
                "scale": float(scale) if scale else None, "zero_point": int(zp) if scale else None}
    if isinstance(runner, OnnxRuntimeRunner):
        t = (runner.sess.get_inputs() if which == "input" else runner.sess.get_outputs())[0]
        shape = [s if isinstance(s, int) else None for s in t.shape]
        return {"name": t.name, "shape": shape, "dtype": t.type.replace("tensor(", "").rstrip(")").replace(
            "float", "float32"), "layout": "NHWC", "scale": None, "zero_point": None}
    shape = [None, 28, 28, 1] if which == "input" else [None, 10]
    return {"name": which, "shape": shape, "dtype": "float32", "layout": "NHWC", "scale": None, "zero_point": None}


METADATA_KEYS = ("format", "precision", "labels", "preprocess", "source")
TFLITE_METADATA_NAME = "edge_digits"


def _embed_tflite_metadata(path: Path, meta: dict) -> None:
    """Add a named metadata buffer (JSON) to a .tflite file with TF's own flatbuffer tools; interpreters ignore
    metadata, so the model runs unchanged (verified right after, like every artifact)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(path.read_bytes()))
    buf = schema.BufferT()
    buf.data = list(json.dumps(meta).encode())
    model.buffers.append(buf)
    md = schema.MetadataT()
    md.name, md.buffer = TFLITE_METADATA_NAME, len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name != TFLITE_METADATA_NAME.encode()] + [md]
    path.write_bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read_tflite_metadata(path: Path) -> dict | None:
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(Path(path).read_bytes()))
    for m in model.metadata or []:
        if m.name in (TFLITE_METADATA_NAME, TFLITE_METADATA_NAME.encode()):
            return json.loads(bytes(model.buffers[m.buffer].data).decode())
    return None


def _embed_onnx_metadata(path: Path, entry: dict) -> None:
    import onnx

    m = onnx.load(str(path))
    del m.metadata_props[:]
    for k in (*METADATA_KEYS, "input"):
        p = m.metadata_props.add()
        p.key, p.value = f"edge_digits.{k}", json.dumps(entry[k])
    onnx.save(m, str(path))


def export(cfg: ExportConfig) -> tuple[list[dict], Path]:
    """Write and verify every selected artifact; return the manifest entries and the manifest path."""
    from .runtimes import FORMAT_RUNTIMES, load as load_runner

    if cfg.max_drop < 0:
        raise EdgeDigitsError(f"--max-drop must be >= 0, got {cfg.max_drop}")
    if cfg.calib_samples <= 0:
        raise EdgeDigitsError(f"--calib-samples must be > 0, got {cfg.calib_samples}")
    src = load_source(cfg.source)
    out = Path(cfg.out)
    if (out / artifacts.MANIFEST).exists() and not cfg.force:
        raise EdgeDigitsError(f"{out}: already holds an export (use --force to replace it)")
    try:
        train_x = load_mnist(cfg.data, download=False).x_train
    except EdgeDigitsError:
        train_x = load_sample().x_train
    calib = calibration_samples(train_x, cfg.calib_samples, cfg.seed)
    ev = load_eval_set(cfg.data)
    _log(f"verifying on the {ev.eval_set} MNIST test set ({len(ev.y_test)} images), calibrating int8 with "
         f"{len(calib)} training images")
    ref = src.model.predict(_float01(ev.x_test), batch_size=1024, verbose=0)
    ref_acc = float((ref.argmax(1) == ev.y_test).mean())
    sample = load_sample()  # recorded too, so a fresh clone can check each artifact offline
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out, prefix=".export-"))
    entries: list[dict] = []
    src_sha = artifacts.sha256_file(src.path)
    source_block = {
        "model": src.path.name, "sha256": src_sha, "arch": src.arch,
        "parameters": int(src.model.count_params()),
        "flops_per_digit": src.metrics.get("flops_per_digit"),
        "training": {k: src.metrics.get(k) for k in ("accuracy", "loss", "epochs_run", "train_seconds", "seed",
                                                      "optimizer", "camera_crops", "camera_not_digits") if k in src.metrics},
        "git_commit": reports.git_commit(), "versions": reports.library_versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if source_block["flops_per_digit"] is None:
        from .models import flops_per_digit

        source_block["flops_per_digit"] = flops_per_digit(src.model)
    try:
        for ex in selected_exporters(cfg):
            name = f"{src.arch}.keras" if ex.format == Format.keras else f"{src.arch}_{ex.filename_suffix}"
            dst = tmp / name
            t0 = time.time()
            _log(f"{ex.format.value} {ex.precision.value}: converting ...")
            try:
                ex.write(src, dst, calib)
            except EdgeDigitsError:
                raise
            except Exception as e:  # noqa: BLE001 - converters raise anything; report which one failed
                raise EdgeDigitsError(f"{ex.format.value} {ex.precision.value} conversion failed: "
                                      f"{type(e).__name__}: {str(e).splitlines()[0][:200]}") from None
            if ex.format == Format.tflite:
                _embed_tflite_metadata(dst, {"format": ex.format.value, "precision": ex.precision.value,
                                             "labels": artifacts.LABELS, "preprocess": artifacts.PREPROCESS,
                                             "source": source_block})
            convert_s = time.time() - t0
            runner = load_runner(dst, FORMAT_RUNTIMES[ex.format][0])
            probs = np.concatenate([runner.predict(ev.x_test[i:i + 1000]) for i in range(0, len(ev.x_test), 1000)])
            acc = float((probs.argmax(1) == ev.y_test).mean())
            sample_acc = float((runner.predict(sample.x_test).argmax(1) == sample.y_test).mean())
            entry = {
                "file": name, "format": ex.format.value, "precision": ex.precision.value,
                "size_bytes": dst.stat().st_size, "sha256": artifacts.sha256_file(dst),
                "input": _io_block(runner, "input"), "output": _io_block(runner, "output"),
                "preprocess": artifacts.PREPROCESS, "labels": artifacts.LABELS,
                "accuracy": round(acc, 5), "keras_accuracy": round(ref_acc, 5),
                "agreement_with_keras": round(float((probs.argmax(1) == ref.argmax(1)).mean()), 5),
                "max_prob_diff": round(float(np.abs(probs - ref).max()), 5),
                "eval_set": {"kind": ev.eval_set, "n": int(len(ev.y_test))},
                "sample_accuracy": round(sample_acc, 5),
                "runtime": runner.runtime.value, "convert_seconds": round(convert_s, 2), "source": source_block,
            }
            drop = (ref_acc - acc) * 100
            _log(f"{ex.format.value} {ex.precision.value}: {entry['size_bytes']:,} bytes, accuracy {acc * 100:.2f}% "
                 f"(keras {ref_acc * 100:.2f}%), agreement {entry['agreement_with_keras'] * 100:.2f}%")
            if drop > cfg.max_drop:
                raise EdgeDigitsError(f"{name}: accuracy {acc * 100:.2f}% is {drop:.2f} points below Keras "
                                      f"({ref_acc * 100:.2f}%), more than --max-drop {cfg.max_drop}")
            if ex.format == Format.onnx:
                _embed_onnx_metadata(dst, entry)
                entry["size_bytes"], entry["sha256"] = dst.stat().st_size, artifacts.sha256_file(dst)
            entries.append(entry)
        for e in entries:
            os.replace(tmp / e["file"], out / e["file"])
        manifest = artifacts.write_manifest(out, entries)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return entries, manifest
