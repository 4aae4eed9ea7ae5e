"""Train the box-fit net (edge_digits.boxfit) and ship it as export/boxfit/box-fit_int8.tflite.

    .venv/bin/python scripts/train_boxfit.py --data ../shared/data/mnist.npz

Data: photo-like pages (edge_digits.synth) of MNIST *training* digits, page seeds 600 and 601 (the tests use
seeds below 100, the development pages 1000-3000, the benchmark 90210). Every candidate the detector offers
on them, pieces of merged groups included, that overlaps a true digit at IoU >= 0.2 gives one window and the
true box as the target (edge_digits.camera_data.box_windows). A tenth is held out; the int8 file must give
the same boxes as the Keras net there (mean IoU >= 0.95 between the two) or nothing is written.
Takes about 8 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge_digits.config import EdgeDigitsError  # noqa: E402


def _windows(args):
    data, pages, seed = args
    from edge_digits.training.camera_data import box_windows
    from edge_digits.data.mnist import load_mnist

    d = load_mnist(data)
    return box_windows(d.x_train, d.y_train, pages, seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="MNIST .npz (default: $EDGE_DIGITS_DATA or Keras' cache)")
    ap.add_argument("--pages", type=int, default=16000)
    ap.add_argument("--seed", type=int, default=600)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--out", type=Path, required=True, help="output folder (make models passes export/boxfit)")
    ap.add_argument("--windows", type=Path, help="keep the windows in this .npz and reuse them when it exists")
    a = ap.parse_args()
    t0 = time.time()
    if a.windows and a.windows.is_file():
        w = np.load(a.windows)
        x, t, v = w["x"], w["t"], w["iou"]
    else:
        with Pool(2) as pool:  # page making and detection are single-threaded: one page seed per core
            parts = pool.map(_windows, [(a.data, a.pages // 2, a.seed), (a.data, a.pages - a.pages // 2, a.seed + 1)])
        x, t, v = (np.concatenate([p[k] for p in parts]) for k in range(3))
        if a.windows:
            np.savez(a.windows, x=x, t=t, iou=v)
    print(f"{len(x)} windows from {a.pages} pages in {time.time() - t0:.0f} s", flush=True)

    from edge_digits.exporters.boxnet import ship_box_net
    from edge_digits.training.boxnet import fit_box_net

    model, report, held, pred, calib = fit_box_net(x, t, v, seed=a.seed, width=a.width, epochs=a.epochs)
    ship_box_net(model, held, pred, calib, a.out, "box-fit", "box-fit (edge_digits.boxfit), not a classifier",
                 "28x28 uint8 window, edge_digits.boxfit.window", {
                     "made_by": f"scripts/train_boxfit.py --pages {a.pages} --seed {a.seed} --width {a.width} --epochs {a.epochs}",
                     "windows": {"train": int(len(x) - len(held)), "held_out": int(len(held))}, "held_out": report})
    print(f"wrote {a.out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except EdgeDigitsError as e:
        sys.exit(f"error: {e}")
