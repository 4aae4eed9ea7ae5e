"""Write benchmarks/export.md from export/manifest.json plus a measured runtime-only cold start.

    .venv/bin/python scripts/bench_export.py [export]

Accuracy, agreement and sizes are those the export verified (through each file's own runtime) and recorded in
the manifest; the cold start is timed here: a fresh Python process that imports edge_digits, loads the int8
TFLite model and classifies one digit, repeated 7 times (median reported).
"""
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from edge_digits.runtime.manifest import read_manifest

ROOT = Path(__file__).resolve().parent.parent
PROBE = ("import sys, time; t0 = time.perf_counter(); import numpy as np; from edge_digits import runtime as runtimes;"
         "r = runtimes.load(); r.predict(np.zeros((1, 28, 28), np.uint8)); t = time.perf_counter() - t0;"
         "tf = any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules);"
         "print(__import__('json').dumps({'in_process_s': t, 'tensorflow_loaded': tf}))")


def cold_start(n=7):
    runs = []
    for _ in range(n):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
        runs.append({**json.loads(out.stdout), "wall_s": wall})
    return runs


def main(folder="export"):
    m = read_manifest(ROOT / folder)
    a = {(x["format"], x["precision"]): x for x in m["artifacts"]}
    fp = a[("keras", "fp32")]
    runs = cold_start()
    wall = statistics.median(r["wall_s"] for r in runs)
    inproc = statistics.median(r["in_process_s"] for r in runs)
    tf = any(r["tensorflow_loaded"] for r in runs)
    lines = ["# Export benchmark", "",
             "Reproduce: `make models` (train + `edge-digits export runs/edge --int8 --out export`), then",
             "`.venv/bin/python scripts/bench_export.py`. Figures below are read from `export/manifest.json`, where",
             "the export recorded what it measured through each file's own runtime.", "",
             f"Evaluation set: {fp['eval_set']['kind']} MNIST test set ({fp['eval_set']['n']:,} images).", "",
             "| file | precision | size | accuracy | drop vs float (points) | top-1 agreement | max prob. diff |",
             "|---|---|---|---|---|---|---|"]
    for x in m["artifacts"]:
        lines.append(f"| `{x['file']}` | {x['precision']} | {x['size_bytes']:,} B | {x['accuracy'] * 100:.2f}% | "
                     f"{(fp['accuracy'] - x['accuracy']) * 100:+.2f} | {x['agreement_with_keras'] * 100:.2f}% | "
                     f"{x['max_prob_diff']:.4f} |")
    qt, qo, ft = a[("tflite", "int8")], a[("onnx", "int8")], a[("tflite", "fp32")]
    goals = [
        ("int8 TFLite within 0.05 points of float and >= 99.55%",
         f"{qt['accuracy'] * 100:.2f}% ({(fp['accuracy'] - qt['accuracy']) * 100:+.2f})",
         fp["accuracy"] - qt["accuracy"] <= 0.0005 and qt["accuracy"] >= 0.9955),
        ("int8 ONNX within 0.05 points of float and >= 99.55%",
         f"{qo['accuracy'] * 100:.2f}% ({(fp['accuracy'] - qo['accuracy']) * 100:+.2f})",
         fp["accuracy"] - qo["accuracy"] <= 0.0005 and qo["accuracy"] >= 0.9955),
        ("int8 TFLite <= 64 KB and <= 1/3 of float32",
         f"{qt['size_bytes'] / 1024:.1f} KiB, {qt['size_bytes'] / ft['size_bytes']:.2f} of {ft['size_bytes'] / 1024:.1f} KiB",
         qt["size_bytes"] <= 65536 and qt["size_bytes"] * 3 <= ft["size_bytes"]),
        ("runtime-only start < 1 s, no TensorFlow loaded",
         f"{wall:.2f} s wall per process (median of {len(runs)}; {inproc:.2f} s inside Python), "
         f"TensorFlow loaded: {'yes' if tf else 'no'}", wall < 1.0 and not tf),
    ]
    lines += ["", "## Goals", "", "| goal | measured | met |", "|---|---|---|"]
    lines += [f"| {g} | {v} | {'yes' if ok else '**no**'} |" for g, v, ok in goals]
    lines.append("")
    out = ROOT / "benchmarks" / "export.md"
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(out)
    print("\n".join(lines))


if __name__ == "__main__":
    from data_args import run_on_export_folder

    run_on_export_folder(main, __doc__)
