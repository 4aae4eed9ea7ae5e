"""The int8 detector with parts of it kept in float: how benchmarks/camera.md's notes judged mixed precision
(the fp32 detector reads better than the int8 one; is one part of the net to blame?).

    .venv/bin/python scripts/mixed_precision.py --mnist ../shared/data/mnist.npz --usps ../shared/data/usps.npz --out /tmp/mixed
    .venv/bin/python scripts/dev_eval.py --mnist ... --usps ... --pages 300 --detector /tmp/mixed/detector_head.tflite

Converts export/detector/detector.keras as the exporter does (full-integer int8, uint8 grey in, the same
calibration pages: training pages the detector did not train on), with TFLite's QuantizationDebugger:
  OUT/layer_stats.csv           each op's int8 error against float on a few calibration frames
  OUT/detector_head.tflite      the head (h1, prob, geom) left in float
  OUT/detector_paper.tflite     the paper-level branch (paper_*, ink, grey_ink) left in float
Prints each op's RMS error in quantization steps (the largest first) and the files written.
Training-side only (TensorFlow).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import os
import sys
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PARTS = {"head": ("h1_", "prob", "StatefulPartitionedCall"), "paper": ("paper", "ink_1", "grey_ink")}


def main() -> None:
    from data_args import add_data_args, check_data_args

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_args(ap)
    ap.add_argument("--calib", type=int, default=250, help="calibration frames (the exporter uses 250)")
    ap.add_argument("--out", required=True, help="folder for the stats and the two files")
    a = ap.parse_args()
    check_data_args(a)
    if a.calib < 5:
        sys.exit(f"error: --calib must be >= 5, got {a.calib}")
    os.environ["EDGE_DIGITS_USPS"] = a.usps
    import cv2

    from edge_digits.core.files import atomic_file, write_text
    from edge_digits.exporters import detector as exporter
    from edge_digits.vision.detector import IN_H, IN_W, to_input

    # the pages first: they are made in worker processes, which must start before TensorFlow is loaded
    pages = exporter._pages(types.SimpleNamespace(data=a.mnist, calib_samples=2 * a.calib), "train", a.calib)
    calib = np.stack([to_input(cv2.cvtColor(p.image, cv2.COLOR_BGR2GRAY), (IN_W, IN_H)) for p in pages])
    frames = [calib[i:i + 1, ..., None].astype(np.float32) for i in range(len(calib))]

    import keras
    import tensorflow as tf

    import edge_digits.training.detector_model  # noqa: F401 - registers the detector's own layers

    model = keras.saving.load_model(ROOT / "export" / "detector" / "detector.keras")
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([f] for f in frames)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    conv.inference_input_type = tf.uint8
    debug = lambda: ([f] for f in frames[:: max(1, len(frames) // 25)])  # noqa: E731 - 25 frames
    with contextlib.redirect_stdout(sys.stderr):  # Keras prints the saved signature while converting
        dbg = tf.lite.experimental.QuantizationDebugger(converter=conv, debug_dataset=debug)
        dbg.run()
    buf = io.StringIO()
    dbg.layer_statistics_dump(buf)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "layer_stats.csv", buf.getvalue())
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    err = sorted(((math.sqrt(float(r["mean_squared_error"])) / float(r["scale"]), r["op_name"], r["tensor_name"])
                  for r in rows if float(r["scale"]) > 0), reverse=True)
    for e, op, name in err:
        print(f"{e:.3f} steps  {op:18s} {name[-60:]}")
    names = [r["tensor_name"] for r in rows]
    for part, keys in PARTS.items():
        deny = [n for n in names if any(k in n for k in keys)]
        opts = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=deny)
        with contextlib.redirect_stdout(sys.stderr):
            mixed = tf.lite.experimental.QuantizationDebugger(converter=conv, debug_dataset=debug, debug_options=opts)
            model_bytes = mixed.get_nondebug_quantized_model()
        dst = out / f"detector_{part}.tflite"
        with atomic_file(dst) as tmp:
            tmp.write_bytes(model_bytes)
        print(f"wrote {dst}: {part} in float ({len(deny)} ops), {dst.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
