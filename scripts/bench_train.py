"""Train every arch on this machine and write benchmarks/train.md from the runs' metrics.json.

    EDGE_DIGITS_DATA=path/to/mnist.npz python scripts/bench_train.py [--reuse] [--seed 0]

--reuse keeps a run folder under runs/bench-train/ that already holds metrics.json (so a long edge run is
not repeated when only the table changes). Every figure in the table is read from those metrics files.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from edge_digits.bench.matrix import cpu_model

ROOT = Path(__file__).resolve().parent.parent
ARCHES = [("mlp", "mnist"), ("mlp-small", "mnist"), ("cnn", "mnist"), ("digits8x8", "sklearn-digits"),
          ("edge", "mnist")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench-train")
    a = ap.parse_args()
    exe = Path(sys.executable).parent / "edge-digits"
    rows = []
    for arch, ds in ARCHES:
        out = a.runs / arch
        if not (a.reuse and (out / "metrics.json").is_file()):
            subprocess.run([str(exe), "train", "--arch", arch, "--dataset", ds, "--seed", str(a.seed), "--out",
                            str(out), "--force"], check=True)
        rows.append(json.loads((out / "metrics.json").read_text()))
    lines = [
        "# Training benchmark",
        "",
        "Every arch trained with its recipe's defaults on this machine; all figures are read from each run's",
        "`metrics.json`. Reproduce (about 20 minutes on 2 cores):",
        "",
        "```",
        "EDGE_DIGITS_DATA=path/to/mnist.npz .venv/bin/python scripts/bench_train.py",
        "```",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"TensorFlow {rows[0]['versions'].get('tensorflow', '?')}.",
        "",
        "| arch | dataset | parameters | FLOPs/digit | test accuracy | test errors | epochs | optimizer | augment | training time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (arch, ds), m in zip(ARCHES, rows):
        lines.append(f"| {arch} | {ds} ({m['data']['eval_set']}, n={m['n']}) | {m['parameters']:,} | "
                     f"{m['flops_per_digit']:,} | {m['accuracy'] * 100:.2f}% | {m['errors']} | {m['epochs_run']} | "
                     f"{m['optimizer']} | {'on' if m['augment'] else 'off'} | {m['train_seconds'] / 60:.1f} min |")
    edge = rows[-1]
    ok = edge["accuracy"] >= 0.996 and edge["parameters"] <= 50000 and edge["flops_per_digit"] <= 3_000_000 \
        and edge["train_seconds"] <= 15 * 60
    lines += ["", "## The edge goal",
              "", "Goal: >= 99.6% MNIST test accuracy in float, <= 50,000 parameters, <= 3 MFLOPs per digit, "
              "<= 15 minutes of training on this 2-core CPU.", "",
              f"Measured: {edge['accuracy'] * 100:.2f}%, {edge['parameters']:,} parameters, "
              f"{edge['flops_per_digit'] / 1e6:.2f} MFLOPs, {edge['train_seconds'] / 60:.1f} min: "
              f"**{'met' if ok else 'not met'}**.", ""]
    out = ROOT / "benchmarks" / "train.md"
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(out)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
