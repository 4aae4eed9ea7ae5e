"""Benchmark the camera pipeline on photo-like pages no test uses; write benchmarks/camera.md and .json.

    .venv/bin/python scripts/bench_camera.py [--pages 1000] [--data ../shared/data/mnist.npz]

Pages: edge_digits.synth with seed 90210 (the tests use seeds below 100), built from MNIST *test* digits
that are not in the bundled sample (the tests and the demo draw from the sample). Without the full MNIST the
script stops: the sample alone cannot give digits no test has seen.
Accuracy: detection recall and precision (IoU >= 0.5, one to one), end-to-end accuracy (found and read
right, over all true digits), pages whose numbers were all read exactly, each rate with its 95% interval.
1000 pages (about 4,200 digits): on 842 digits (200 pages, this benchmark until 2026-11-22, still the
first 200 of these) a 99% recall is known only to about +-0.7 points, on 4,200 to about +-0.3.
Speed: each page as a 640x480 PNG, decoded apart (cv2.imdecode), then processing = detect + normalize +
classify + box fit in one read_frame call; 10 passes of all pages after a warm-up pass, the fastest pass reported
(the host is shared) and every pass's throughput and p99 listed beside it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from edge_digits.training import evaluate
from edge_digits.vision.rules import boxfit
from edge_digits import runtime as runtimes
from edge_digits.data import synth
from edge_digits.vision import pipeline as vision
from edge_digits.data.synth import EDGE
from edge_digits.config import camera_model, default_model
from edge_digits.data.mnist import load_mnist, load_sample

ROOT = Path(__file__).resolve().parent.parent
SEED = 90210
FIRST = 200  # the benchmark's pages until 2026-11-22: their figures are reported too, to compare with
GOALS = {"recall": 0.99, "precision": 0.99, "accuracy": 0.97, "fps": 400.0, "p99_ms": 5.0}


def unseen_digits(path: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    full = load_mnist(path, download=False)
    used = {hashlib.sha1(x.tobytes()).digest() for x in load_sample().x_test}
    keep = np.array([hashlib.sha1(x.tobytes()).digest() not in used for x in full.x_test])
    return full.x_test[keep], full.y_test[keep], full.source


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=SEED,
                    help="page seed (default: the benchmark's; tune on others, e.g. the development seeds 1000, 2000, 3000)")
    ap.add_argument("--data", help="MNIST .npz (default: $EDGE_DIGITS_DATA or Keras' cache)")
    ap.add_argument("--model", help="default: the shipped camera model, export/camera/edge-cam_int8.tflite")
    ap.add_argument("--compare", default=str(default_model()),
                    help="a second model read on the same pages, accuracy only (default: the MNIST-only export/edge_int8.tflite; '' for none)")
    ap.add_argument("--threads", type=int, default=1, help="runtime threads (default 1)")
    ap.add_argument("--opencv-threads", type=int, default=1, help="cv2.setNumThreads (default 1, as the camera uses)")
    ap.add_argument("--passes", type=int, default=10)
    ap.add_argument("--no-box-fit", action="store_true", help="leave the boxes as the detector found them (edge_digits.boxfit)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "camera"))
    args = ap.parse_args()

    cv2.setNumThreads(args.opencv_threads)
    x, y, source = unseen_digits(args.data)
    pages = synth.make_pages(x, y, args.pages, seed=args.seed)
    runner = runtimes.load(args.model, threads=args.threads, default=camera_model())
    fitter = None if args.no_box_fit else boxfit.load(args.threads)
    pngs = [cv2.imencode(".png", p.image)[1] for p in pages]

    truth, found = evaluate.read(pages, runner, boxfit=fitter)
    acc = synth.score(truth, found)
    first = synth.score(truth[:FIRST], found[:FIRST]) if len(pages) > FIRST and args.seed == SEED else None
    other = None
    if args.compare:
        o = runtimes.load(args.compare, threads=args.threads)
        other = {"model": o.path.name, "accuracy": evaluate.read_pages(pages, o, boxfit=fitter)}

    passes = []  # per pass: decode ms, processing ms, stage ms per frame
    for k in range(args.passes + 1):
        decode, proc, stages = [], [], {"detect": [], "normalize": [], "classify": [], "fit": []}
        for buf in pngs:
            t0 = time.perf_counter()
            frame = cv2.imdecode(buf, cv2.IMREAD_COLOR)
            t1 = time.perf_counter()
            res = vision.read_frame(frame, runner, boxfit=fitter)
            decode.append((t1 - t0) * 1e3)
            proc.append(sum(res.ms.values()))
            for s in stages:
                stages[s].append(res.ms.get(s, 0.0))
        if k:  # pass 0 is the warm-up: caches, the runtime's first resizes
            passes.append((decode, np.array(proc), stages))
    # This host is shared and its speed drifts by a third within the hour. As Python's timeit advises, the
    # fastest pass is what the code can do; the others measure the neighbours too, and are all reported.
    decode, proc_a, stages = min(passes, key=lambda p: p[1].mean())
    speed = {"frames": len(proc_a), "passes": len(passes), "fps": 1e3 / proc_a.mean(), "mean_ms": proc_a.mean(),
             "p50_ms": float(np.percentile(proc_a, 50)), "p99_ms": float(np.percentile(proc_a, 99)),
             "decode_mean_ms": float(np.mean(decode)),
             "fps_every_pass": [round(1e3 / p[1].mean(), 1) for p in passes],
             "p99_ms_every_pass": [round(float(np.percentile(p[1], 99)), 2) for p in passes],
             **{f"{s}_mean_ms": float(np.mean(v)) for s, v in stages.items()}}
    n_digits = [len(p.labels) for p in pages]
    report = {"command": " ".join(["python", "scripts/bench_camera.py", *sys.argv[1:]]),
              "pages": len(pages), "seed": args.seed, "digits_source": f"{source} test split minus the bundled sample",
              "digits_per_page": [int(min(n_digits)), int(max(n_digits))], "model": str(runner.path.name),
              "box_fit": fitter.describe() if fitter else None,
              "runtime": runner.describe(), "threads": args.threads, "opencv_threads": cv2.getNumThreads(),
              "min_confidence": vision.MIN_CONFIDENCE,
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
              "load_avg_1min": os.getloadavg()[0], "accuracy": acc, "speed": speed, "goals": GOALS,
              "compare": other, "first_pages": FIRST if first else None, "first_pages_accuracy": first}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.partial")
    tmp.write_text(json.dumps(report, indent=2, default=float))
    tmp.replace(out.with_suffix(".json"))
    md = render(report)
    tmp = out.with_suffix(".md.partial")
    tmp.write_text(md)
    tmp.replace(out.with_suffix(".md"))
    print(md)


def interval(rate: float, n: int) -> str:
    """The 95% Wilson score interval of a rate measured on n trials. By hand: three lines, and the
    benchmark needs no statistics package for them."""
    if n == 0:
        return "-"
    z = 1.96
    mid, half = (rate + z * z / (2 * n)) / (1 + z * z / n), z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"{mid - half:.1%}-{mid + half:.1%}"


def compare_block(r: dict) -> str:
    if not r.get("compare"):
        return ""
    rows = []
    for name, a in ((r["model"], r["accuracy"]), (r["compare"]["model"], r["compare"]["accuracy"])):
        rows.append(f"| {name} | {a['recall']:.2%} | {a['precision']:.2%} | {a['accuracy']:.2%} | "
                    f"{a['readings_exact']:.2%} |")
    return ("The same pages read with each model (the detector is the same; only the classifier differs, and "
            "with it\nwhich blobs pass --min-confidence):\n\n"
            "| model | recall | precision | end-to-end accuracy | pages read exactly |\n| --- | --- | --- | --- | --- |\n"
            + "\n".join(rows) + "\n\n")


def first_block(r: dict) -> str:
    f = r.get("first_pages_accuracy")
    if not f:
        return ""
    return (f"\nThe first {r['first_pages']} of these pages, this benchmark's whole set until 2026-11-22 ({f['digits']} digits): "
            f"recall {f['recall']:.2%}, precision {f['precision']:.2%}, end-to-end accuracy {f['accuracy']:.2%}.\n")


def render(r: dict) -> str:
    a, s, g = r["accuracy"], r["speed"], r["goals"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    n, d = a["digits"], a["detections"]
    rows = [
        ("detection recall", f"{a['recall']:.2%} ({interval(a['recall'], n)})", f">= {g['recall']:.0%}",
         verdict(a["recall"] >= g["recall"])),
        ("detection precision", f"{a['precision']:.2%} ({interval(a['precision'], d)})", f">= {g['precision']:.0%}",
         verdict(a["precision"] >= g["precision"])),
        ("end-to-end accuracy (found and read right)", f"{a['accuracy']:.2%} ({interval(a['accuracy'], n)})",
         f">= {g['accuracy']:.0%}", verdict(a["accuracy"] >= g["accuracy"])),
        ("pages with every number read exactly", f"{a['readings_exact']:.2%}", "-", "-"),
        ("processing throughput (detect+normalize+classify+fit)", f"{s['fps']:.0f} fps", f">= {g['fps']:.0f} fps",
         verdict(s["fps"] >= g["fps"])),
        ("processing p50 / p99 per frame", f"{s['p50_ms']:.2f} / {s['p99_ms']:.2f} ms", f"p99 <= {g['p99_ms']} ms",
         verdict(s["p99_ms"] <= g["p99_ms"])),
    ]
    table = "\n".join(f"| {a_} | {b} | {c} | {v} |" for a_, b, c, v in rows)
    short = [f"- {name}: {res} against a goal of {goal}." for name, res, goal, v in rows if v.startswith("**")]
    shortfalls = "\n".join(short) or "- Every goal is met on this run."
    by_height = "\n".join(f"| {k} | {v['digits']} | {v['recall']:.2%} | {v['accuracy']:.2%} |"
                          for k, v in a["by_height"].items())
    return f"""# Camera pipeline benchmark

Made by:

    {r['command']}

{r['pages']} photo-like 640x480 pages (`edge_digits.synth`, seed {r['seed']}; {r['digits_per_page'][0]} to
{r['digits_per_page'][1]} digits a page, {a['digits']} digits in all) from {r['digits_source']}: no test
and not the demo uses these digits or this seed, and the camera model's training pages are built from MNIST
*training* digits. A digit the page's perspective pushes against the frame edge (ink within
{EDGE} px of it) is cut by the edge, which the detector must ignore: it is no ground truth, and a box on it
counts neither as a hit nor as a false alarm. Model {r['model']} through {r['runtime']}, boxes grown by
{r.get('box_fit') or 'nothing (--no-box-fit)'}, runtime threads
{r['threads']}, OpenCV threads {r['opencv_threads']}, --min-confidence {r['min_confidence']}; {r['machine']}; 1-minute load average when it ran:
{r['load_avg_1min']:.2f} (the machine is shared, so speed varies from run to run).

| measure | result (95% interval) | goal | |
| --- | --- | --- | --- |
{table}
{first_block(r)}
By the height of the true digit box (the pages draw heights from 15 px to half the frame, evenly on a
log scale):

| height | digits | recall | end-to-end accuracy |
| --- | --- | --- | --- |
{by_height}

{compare_block(r)}Speed is the fastest of {s['passes']} passes over the {s['frames']} frames (after a warm-up pass): this host is
shared and its speed drifts from minute to minute, so as Python's `timeit` advises the fastest pass is taken as
what the code can do. Every pass: {', '.join(f'{v:.0f}' for v in s['fps_every_pass'])} fps,
p99 {', '.join(f'{v:.2f}' for v in s['p99_ms_every_pass'])} ms. Stage means in the fastest pass:
detect {s['detect_mean_ms']:.2f} ms, normalize {s['normalize_mean_ms']:.2f} ms, classify {s['classify_mean_ms']:.2f} ms
(all digits of a frame in one batch), fit {s.get('fit_mean_ms', 0.0):.2f} ms (the box-fit net, one batch). PNG decode, reported apart: {s['decode_mean_ms']:.2f} ms a frame.

Full numbers: `camera.json` beside this file.

## Where it falls short, and why

{shortfalls}

How the shipped pipeline got here, on development pages (`edge_digits.synth` seeds 1000, 2000 and 3000,
300 pages each, 3,939 digits; never this seed), as missed / false alarms / found but misread:
- Without the box fit, at --min-confidence 0.3 (the pipeline until 2026-11-22): 35 / 27 / 55. Of the 27
  false alarms, 19 were boxes on a true digit that fit it badly (IoU under 0.5): mostly a part of it,
  the digit then counted missed as well.
- The box fit (`edge_digits.boxfit`, `export/boxfit/`): a small CNN looks at a window twice a found
  digit's size and says where the whole digit is; the box then takes in the ink blobs lying wholly in that
  estimate (the blobs, not the net's numbers, give the edges). With it: 32 / 24 / 56. It is run on digits
  up to 25 px tall only: up to 50 px found 2 digits more there (and 3 false alarms fewer) for twice the time (0.23 against 0.12 ms a
  frame), more than the 400 fps goal can spare.
- With those false alarms gone, --min-confidence 0.2 instead of 0.3: 27 / 27 / 60 (without the fit, 0.2
  gave 32 / 33 / 57). This is what ships.

What is still missed there (27 digits, most under 20 px):
- The smallest digits in faint ink (red, green or graphite, blurred). The second look
  (`detect._second_look`: a lower threshold in windows around what the first left unexplained) finds those
  of which the main threshold keeps at least a bit; one that leaves nothing there, or whose faint strokes
  run into a neighbour, stays missed. Seeds for it from a quarter-size darkness map (where averaging takes
  the sensor noise away) found 1 of them and raised 5 false alarms on faint margin lines; a second look
  over the whole frame found one digit more, with more false alarms, in about twice the time.
- A ruled line along a digit's own stroke (the bar of a 7 lying on the line goes with the line), and a
  blot: blurred marker digits whose loops close up.
- A box too big: a digit merged with a line or a neighbour (the box fit only grows boxes).
- Misread digits are mostly the small ones (the table by height above), plus MNIST digits that are
  ambiguous in themselves (a 4 whose top closed, a 7 written like a 1). A bigger classifier does not read
  them better: one with 3 times the multiply-adds, trained the same way, read 57 digits wrong where the
  shipped one read 55, and the mean of three models' outputs 54; retraining `edge-cam` on newer crops read
  59 to 70 wrong, so the shipped classifier stays.
"""


if __name__ == "__main__":
    main()
