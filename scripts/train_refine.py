"""Train the learned detector's box refiner (edge_digits.vision.refine) and ship it as
export/refine/box-refine_int8.tflite with its manifest.

    .venv/bin/python scripts/train_refine.py --data mnist.npz --usps usps.npz --out export/refine

Windows: generated pages of the training digit pools (MNIST train[:50000], USPS train[:6000]; page seeds
from 5,000,000, apart from the detector's), the shipped detector's boxes on them and jittered true boxes
(edge_digits.training.refine). The net, its held-out report and the int8 check: edge_digits.training.boxnet.
About 2.5 min of windows for 3,000 pages and 6 min of training on 2 cores.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge_digits.config import EdgeDigitsError  # noqa: E402


def main() -> None:
    from edge_digits.training.boxnet import cached_windows, script_args

    ap = script_args(__doc__.splitlines()[0], 3000, 0, 16, "output folder (make models passes export/refine)")
    ap.add_argument("--usps", help="USPS .npz (default: $EDGE_DIGITS_USPS; without it, MNIST digits only)")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    t0 = time.time()

    def make():
        from edge_digits.data.mnist import load_mnist
        from edge_digits.data.usps import load_usps, usps_path
        from edge_digits.training.detector import split_sets
        from edge_digits.training.refine import make_windows

        usps = load_usps(a.usps) if usps_path(a.usps) else None
        return make_windows(split_sets(load_mnist(a.data), usps, "train"), a.pages, a.workers)

    x, t, v, det = cached_windows(a.windows, make, ("x", "t", "iou", "det"))
    print(f"{len(x)} windows ({int(det.sum())} of the detector's boxes) from {a.pages} pages in "
          f"{time.time() - t0:.0f} s", flush=True)

    from edge_digits.exporters.boxnet import fit_and_ship

    fit_and_ship(x, t, v, a, "box-refine", "box refiner of the learned detector (edge_digits.vision.refine)",
                 "28x28 uint8 window, edge_digits.vision.refine.window", "scripts/train_refine.py",
                 bands=((0.1, 0.3), (0.3, 0.5), (0.5, 0.75), (0.75, 1.01)), windows_extra={"from_detector": int(det.sum())})
    print(f"wrote {a.out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except EdgeDigitsError as e:
        sys.exit(f"error: {e}")
