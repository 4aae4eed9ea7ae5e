"""Fit the learned reader's accept model (edge_digits.vision.accept) and ship it as export/accept/accept.json.

    .venv/bin/python scripts/train_accept.py --data mnist.npz --usps usps.npz --out export/accept

Candidates: the shipped detector, refiner and camera classifier on generated pages of the training digit
pools (MNIST train[:50000], USPS train[:6000]; page seeds from 6,000,000), as edge_digits.training.accept
describes. Run it after any of those three models changes (make models does, last). About 1 min on 2 cores.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge_digits.config import EdgeDigitsError  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="MNIST .npz (default: $EDGE_DIGITS_DATA or Keras' cache)")
    ap.add_argument("--usps", help="USPS .npz (default: $EDGE_DIGITS_USPS; without it, MNIST digits only)")
    ap.add_argument("--pages", type=int, default=1500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True, help="output folder (make models passes export/accept)")
    a = ap.parse_args()
    if not 1 <= a.pages <= 100_000:
        raise EdgeDigitsError(f"--pages must be in 1..100000, got {a.pages}")
    if not 1 <= a.workers <= 64:
        raise EdgeDigitsError(f"--workers must be in 1..64, got {a.workers}")
    from edge_digits.core.files import check_writable
    from edge_digits.data.mnist import load_mnist
    from edge_digits.data.usps import load_usps, usps_path
    from edge_digits.training.accept import train_accept
    from edge_digits.training.detector import split_sets

    out = check_writable(a.out / "accept.json")
    t0 = time.time()
    usps = load_usps(a.usps) if usps_path(a.usps) else None
    m = train_accept(split_sets(load_mnist(a.data), usps, "train"), out, a.pages, a.workers,
                     made_by=f"scripts/train_accept.py --pages {a.pages}")
    f = m["fit"]
    print(f"{f['candidates']} candidates ({f['digits']} digits) from {a.pages} pages: best F1 on them "
          f"{f['f1']:.4f} at {f['f1_threshold']}; wrote {out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except EdgeDigitsError as e:
        sys.exit(f"error: {e}")
