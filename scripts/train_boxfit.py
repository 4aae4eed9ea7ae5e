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
    from edge_digits.training.boxnet import cached_windows, script_args

    a = script_args(__doc__.splitlines()[0], 16000, 600, 20, "output folder (make models passes export/boxfit)").parse_args()
    t0 = time.time()

    def make():
        with Pool(2) as pool:  # page making and detection are single-threaded: one page seed per core
            parts = pool.map(_windows, [(a.data, a.pages // 2, a.seed), (a.data, a.pages - a.pages // 2, a.seed + 1)])
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))

    x, t, v = cached_windows(a.windows, make, ("x", "t", "iou"))
    print(f"{len(x)} windows from {a.pages} pages in {time.time() - t0:.0f} s", flush=True)

    from edge_digits.exporters.boxnet import fit_and_ship

    fit_and_ship(x, t, v, a, "box-fit", "box-fit (edge_digits.boxfit), not a classifier",
                 "28x28 uint8 window, edge_digits.boxfit.window", "scripts/train_boxfit.py")
    print(f"wrote {a.out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except EdgeDigitsError as e:
        sys.exit(f"error: {e}")
