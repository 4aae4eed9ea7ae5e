"""Export a trained Keras model to TFLite and ONNX (float and int8), and prove every file works.

One module a format (tflite, onnx, keras_file) and one table, EXPORTERS, that the CLI, the tests and bench
read. Every artifact is written into a temporary folder, verified through its own runtime against the Keras
model, and only then moved into the output folder with its manifest entry; a failing export leaves nothing.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from edge_digits.config import EdgeDigitsError, ExportConfig, Format, Precision
from edge_digits.core import files, provenance
from edge_digits.core.quiet import native_stderr_silenced
from edge_digits.data.mnist import calibration_samples, load_eval_set, load_mnist, load_sample
from edge_digits.exporters.base import Exporter, Source, _float01, _log, load_source  # noqa: F401 - the API
from edge_digits.exporters.keras_file import write_keras
from edge_digits.exporters.onnx import _embed_onnx_metadata, write_onnx_fp32, write_onnx_int8
from edge_digits.exporters.tflite import (_embed_tflite_metadata, read_tflite_metadata,  # noqa: F401
                                          write_tflite_fp16, write_tflite_fp32, write_tflite_int8)
from edge_digits.runtime import manifest as artifacts

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

def _io_block(runner, which: str) -> dict:
    """Input/output description read back from the written file itself."""
    from edge_digits.runtime import LiteRTRunner, OnnxRuntimeRunner

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

def export(cfg: ExportConfig) -> tuple[list[dict], Path]:
    """Write and verify every selected artifact; return the manifest entries and the manifest path."""
    from edge_digits.runtime import FORMAT_RUNTIMES, load as load_runner

    if cfg.max_drop < 0:
        raise EdgeDigitsError(f"--max-drop must be >= 0, got {cfg.max_drop}")
    if not 0 <= cfg.min_accuracy <= 1:
        raise EdgeDigitsError(f"--min-accuracy must be in 0..1, got {cfg.min_accuracy}")
    if cfg.calib_samples <= 0:
        raise EdgeDigitsError(f"--calib-samples must be > 0, got {cfg.calib_samples}")
    if isinstance(cfg.imgsz, str):  # the command line's WxH
        m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", cfg.imgsz)
        if not m:
            raise EdgeDigitsError(f"--imgsz takes WxH, e.g. 448x336, got {cfg.imgsz!r}")
        cfg = dataclasses.replace(cfg, imgsz=(int(m[1]), int(m[2])))
    if cfg.imgsz is not None and not all(32 <= v <= 4096 and v % 16 == 0 for v in cfg.imgsz):
        raise EdgeDigitsError(f"--imgsz takes WxH, each a multiple of 16 from 32 to 4096, got {cfg.imgsz[0]}x{cfg.imgsz[1]}")
    out = Path(cfg.out)
    files.check_writable(out, folder=True)  # a file, a folder under a file, read-only: before any work
    if (out / artifacts.MANIFEST).exists() and not cfg.force:
        raise EdgeDigitsError(f"{out}: already holds an export (use --force to replace it)")
    src = load_source(cfg.source)
    from edge_digits.exporters import detector

    if detector.is_detector(src.model):
        return detector.export(cfg, src)
    if cfg.imgsz is not None:
        raise EdgeDigitsError("--imgsz sets the detector's input size; a 28x28 classifier has no other")
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
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        tmp = Path(tempfile.mkdtemp(dir=out, prefix=".export-"))
    except BaseException:
        if created:
            out.rmdir()
        raise
    entries: list[dict] = []
    src_sha = artifacts.sha256_file(src.path)
    source_block = {
        "model": src.path.name, "sha256": src_sha, "arch": src.arch,
        "parameters": int(src.model.count_params()),
        "flops_per_digit": src.metrics.get("flops_per_digit"),
        "training": {k: src.metrics.get(k) for k in ("accuracy", "loss", "epochs_run", "train_seconds", "seed",
                                                      "optimizer", "camera_crops", "camera_not_digits", "usps_train_digits",
                                                      "usps_test_accuracy") if k in src.metrics},
        "git_commit": provenance.git_commit(), "versions": provenance.library_versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if source_block["flops_per_digit"] is None:
        from edge_digits.training.models import flops_per_digit

        source_block["flops_per_digit"] = flops_per_digit(src.model)
    try:
        for ex in selected_exporters(cfg):
            name = f"{src.arch}.keras" if ex.format == Format.keras else f"{src.arch}_{ex.filename_suffix}"
            dst = tmp / name
            t0 = time.time()
            _log(f"{ex.format.value} {ex.precision.value}: converting ...")
            try:
                # TF's converters log through absl and C++ (NodeDef notes, "Statistics for quantized inputs",
                # fully_quantize) and warn through Python: none of it is for the user.
                with native_stderr_silenced(), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
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
            if acc < cfg.min_accuracy:
                raise EdgeDigitsError(f"{name}: accuracy {acc * 100:.2f}% is below --min-accuracy "
                                      f"{cfg.min_accuracy:g} (the model did not learn; train it longer or on "
                                      "more data, or lower --min-accuracy)")
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
        if created and out.is_dir() and not any(out.iterdir()):  # failed or interrupted: no empty folder left
            out.rmdir()
    return entries, manifest
