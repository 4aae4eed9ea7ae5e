"""What the box refiner (vision.refine) costs the camera: the learned reader with and without it, timed
side by side on the same frames, in alternating rounds (a shared machine that slows down mid-run slows
both alike; benchmarks/camera.md's speed table is one reader alone).

    .venv/bin/python scripts/bench_refine.py --mnist ../shared/data/mnist.npz --usps ../shared/data/usps.npz

Frames: 640x480 dev pages (data.pages) with up to 8 digits, decoded before timing; one thread, shipped
int8 models on LiteRT. Prints frames/s and the mean ms of each stage per reader, best of the rounds.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mnist", required=True)
    ap.add_argument("--usps", required=True)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    for p in (a.mnist, a.usps):
        if not Path(p).is_file():
            sys.exit(f"error: {p}: no such file")
    cv2.setNumThreads(1)
    from edge_digits import runtime
    from edge_digits.config import camera_model
    from edge_digits.data.pages import SPLITS, banks, make_page
    from edge_digits.vision import pipeline
    from edge_digits.vision.detector import load_detector

    bank, frames, seed = banks(a.mnist, a.usps, "dev"), [], SPLITS["dev"]["seed"]
    while len(frames) < a.frames:
        p = make_page(bank, np.random.default_rng(seed), size=(640, 480))
        seed += 1
        if len(p.boxes) <= 8:
            frames.append(p.image)
    clf = runtime.load(camera_model(), threads=1)
    readers = {"without refiner": load_detector(threads=1, refine=False), "with refiner": load_detector(threads=1)}
    best: dict = {}
    for _ in range(a.rounds):
        for name, det in readers.items():
            for f in frames[:20]:
                pipeline.read_frame(f, clf, detector=det)  # warm-up
            t, ms = [], {}
            for f in frames:
                t0 = time.perf_counter()
                r = pipeline.read_frame(f, clf, detector=det)
                t.append(time.perf_counter() - t0)
                for k, v in r.ms.items():
                    ms[k] = ms.get(k, 0.0) + v / len(frames)
            fps = 1.0 / float(np.mean(t))
            if fps > best.get(name, (0.0,))[0]:
                best[name] = (fps, ms)
    for name, (fps, ms) in best.items():
        print(f"{name}: {fps:.0f} frames/s; " + ", ".join(f"{k} {v:.2f} ms" for k, v in ms.items()))


if __name__ == "__main__":
    main()
