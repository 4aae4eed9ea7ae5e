"""`edge-digits export` of the learned detector (a run of `train --arch detector`): float16 TFLite (what camera
and predict run), int8 TFLite (uint8 grey input, the net scales it itself), float32 ONNX, and the .keras
reference, each run right after it is
written through its own runtime (runtime.maps) on generated development pages and held to the Keras
model's detection recall there (--max-drop points). Calibration: frames of generated training pages."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from edge_digits.config import EdgeDigitsError, ExportConfig, Format
from edge_digits.core import files, provenance
from edge_digits.core.quiet import native_stderr_silenced
from edge_digits.exporters.base import Source, _log
from edge_digits.exporters.onnx import write_onnx_fp32
from edge_digits.exporters.tflite import _tflite_converter, write_tflite_fp16
from edge_digits.runtime import manifest as artifacts

VERIFY_PAGES = 100
# The int8 gate on dev-page recall, in points: --max-drop, but never under this. Rounding the heatmap to
# int8 moves peaks that sit near the threshold; 0.1 points (the classifiers' default) is 3 digits of 3,000.
MIN_RECALL_DROP = 1.0


def preprocess(w: int, h: int) -> dict:
    """The manifest's preprocess block of a detector with a w x h input."""
    return {"image": f"the grey frame, letterboxed (aspect kept, centred, mean-grey border) to {w}x{h}",
            "runtime_input": "uint8 0..255 (int8 TFLite: as is; fp16 TFLite and ONNX: as float32); the net scales it itself",
            "outputs": f"prob ({h // 4}x{w // 4}x2: centre heatmap, link map), geom ({h // 4}x{w // 4}x4: log w, log h, "
                       "offset x, y); decoded by edge_digits.vision.detector.decode"}


def is_detector(model) -> bool:
    """A grey-frame model of any input size whose sides are multiples of 16 (the FPN merges 1/16 into 1/8
    and 1/4: other sizes misalign them)."""
    shape = tuple(model.input_shape[1:])
    return len(shape) == 3 and shape[2] == 1 and all(isinstance(v, int) and v >= 32 and v % 16 == 0 for v in shape[:2])


def at_size(model, imgsz: tuple[int, int] | None):
    """The detector rebuilt with a (W, H) input and the same weights (it is fully convolutional), or the model
    itself when imgsz is None or its own size."""
    if imgsz is None or tuple(model.input_shape[1:3]) == (imgsz[1], imgsz[0]):
        return model
    from edge_digits.training.detector_model import build_detector

    resized = build_detector((imgsz[1], imgsz[0], 1))
    resized.set_weights(model.get_weights())
    return resized


def write_tflite_int8(src: Source, dst: Path, calib: np.ndarray) -> None:
    import tensorflow as tf

    conv = _tflite_converter(src)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i: i + 1, ..., None].astype(np.float32)] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8  # grey pixels go in as they are
    conv.inference_output_type = tf.int8
    dst.write_bytes(conv.convert())


def _pages(cfg: ExportConfig, split: str, n: int):
    from edge_digits.data.mnist import load_mnist
    from edge_digits.data.usps import load_usps, usps_path
    from edge_digits.training.detector import generate_pages, split_sets

    mnist = load_mnist(cfg.data, download=False)
    if not mnist.full:
        raise EdgeDigitsError("exporting the detector needs the full MNIST (--data or EDGE_DIGITS_DATA) for its pages")
    usps = load_usps() if usps_path() else None
    # calibration frames from training pages the detector did not train on (seeds past its own), checks on dev pages
    first = {"train": 1_500_000, "dev": 2_000_000}[split]
    return generate_pages(split_sets(mnist, usps, split), [first + i for i in range(n)])


def export(cfg: ExportConfig, src: Source) -> tuple[list[dict], Path]:
    import cv2

    from edge_digits.runtime.maps import load_maps
    from edge_digits.training.detector import dev_scores
    from edge_digits.vision.detector import to_input

    out = Path(cfg.out)
    t0 = time.time()
    trained_h, trained_w = src.model.input_shape[1:3]
    model = at_size(src.model, cfg.imgsz)
    resized = model is not src.model
    if resized:
        src = Source(model, src.path, src.arch, src.metrics)
    in_h, in_w = src.model.input_shape[1:3]  # the input the files are written with
    calib_pages = _pages(cfg, "train", max(1, cfg.calib_samples // 2))
    calib = np.stack([to_input(cv2.cvtColor(p.image, cv2.COLOR_BGR2GRAY), (in_w, in_h)) for p in calib_pages])
    dev = _pages(cfg, "dev", VERIFY_PAGES)
    _log(f"detector: calibrating int8 with {len(calib)} training-page frames, verifying on {len(dev)} dev pages "
         f"({time.time() - t0:.0f} s)")

    def keras_maps(x):
        o = src.model(x[None, ..., None].astype(np.float32), training=False)
        return np.asarray(o["prob"])[0], np.asarray(o["geom"])[0]

    ref = dev_scores(keras_maps, dev, (in_w, in_h))
    source_block = {"model": src.path.name, "sha256": files.sha256_file(src.path), "arch": "detector",
                    "parameters": int(src.model.count_params()), "training": src.metrics.get("dev"),
                    "trained_input": [trained_w, trained_h],
                    "git_commit": provenance.git_commit(), "versions": provenance.library_versions(),
                    "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    # the .keras reference at the files' input size: the source file as it is, or the net rebuilt at imgsz
    writers = [("detector.keras", Format.keras, "fp32",
                (lambda s, d, c: s.model.save(d)) if resized else (lambda s, d, c: shutil.copyfile(s.path, d)))]
    if Format.tflite in cfg.formats:
        # fp16 weights, float compute (LiteRT's XNNPACK): the file camera and predict run (config.detector_model)
        writers.append(("detector_fp16.tflite", Format.tflite, "fp16", write_tflite_fp16))
        writers.append(("detector_int8.tflite", Format.tflite, "int8", write_tflite_int8))
    if Format.onnx in cfg.formats:
        writers.append(("detector_fp32.onnx", Format.onnx, "fp32", write_onnx_fp32))
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    with tempfile.TemporaryDirectory(dir=out, prefix=".detector-export-") as tmp_name:  # gone afterwards, error or not
        tmp = Path(tmp_name)
        for name, fmt, precision, write in writers:
            dst = tmp / name
            _log(f"detector {fmt.value} {precision}: converting ...")
            try:
                with warnings.catch_warnings(), native_stderr_silenced():  # the converters' chatter
                    warnings.simplefilter("ignore")
                    write(src, dst, calib)
            except EdgeDigitsError:
                raise
            except Exception as e:  # noqa: BLE001 - converters raise anything; report which one failed
                raise EdgeDigitsError(f"detector {fmt.value} {precision} conversion failed: {type(e).__name__}: "
                                      f"{str(e).splitlines()[0][:200]}") from None
            entry = {"file": name, "format": fmt.value, "precision": precision, "kind": "detector",
                     "size_bytes": dst.stat().st_size, "sha256": files.sha256_file(dst), "preprocess": preprocess(in_w, in_h),
                     "input": {"shape": [1, in_h, in_w, 1], "dtype": "uint8" if precision == "int8" else "float32"},
                     "keras_dev": ref, "source": source_block}
            if fmt != Format.keras:
                net = load_maps(dst, threads=1)
                got = dev_scores(lambda x: _pick(net.run(x)), dev, (in_w, in_h))
                entry.update(dev=got, runtime="litert" if fmt == Format.tflite else "onnxruntime")
                drop, allowed = (ref["recall"] - got["recall"]) * 100, max(cfg.max_drop, MIN_RECALL_DROP)
                _log(f"detector {fmt.value} {precision}: {entry['size_bytes']:,} bytes, dev recall {got['recall']:.2%} "
                     f"(keras {ref['recall']:.2%}), precision {got['precision']:.2%}, numbers {got['numbers_linked']:.2%}")
                if drop > allowed:
                    raise EdgeDigitsError(f"{name}: dev recall {got['recall']:.2%} is {drop:.2f} points below Keras "
                                          f"({ref['recall']:.2%}), more than {allowed} (--max-drop)")
            entries.append(entry)
        # the training run's record travels with the files (the model card's figures come from it)
        for src_name, dst_name in (("metrics.json", "training_metrics.json"), ("curves.png", "curves.png")):
            if (src.path.parent / src_name).is_file():
                shutil.copyfile(src.path.parent / src_name, tmp / dst_name)
                os.replace(tmp / dst_name, out / dst_name)
        for e in entries:
            os.replace(tmp / e["file"], out / e["file"])
    return entries, artifacts.write_manifest(out, entries)


def _pick(outs):
    return next(o for o in outs if o.shape[-1] == 2), next(o for o in outs if o.shape[-1] == 4)
