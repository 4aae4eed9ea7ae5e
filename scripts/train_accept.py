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
sys.path.insert(0, str(ROOT / "scripts"))

from edge_digits.config import EdgeDigitsError  # noqa: E402


def main() -> None:
    from data_args import add_fit_args, fit_sets

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_fit_args(ap, "output folder (make models passes export/accept)")
    ap.add_argument("--classifier", help="classifier file that reads the candidates (default: the shipped camera one)")
    a = ap.parse_args()
    if a.classifier and not Path(a.classifier).is_file():
        raise EdgeDigitsError(f"{a.classifier}: no such classifier file")
    from edge_digits.core.files import check_writable
    from edge_digits.training.accept import train_accept

    out = check_writable(a.out / "accept.json")
    t0 = time.time()
    m = train_accept(fit_sets(a), out, a.pages, a.workers, made_by=f"scripts/train_accept.py --pages {a.pages}",
                     detector=a.detector, classifier=a.classifier)
    f = m["fit"]
    print(f"{f['candidates']} candidates ({f['digits']} digits) from {a.pages} pages: best F1 on them "
          f"{f['f1']:.4f} at {f['f1_threshold']}; wrote {out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except EdgeDigitsError as e:
        sys.exit(f"error: {e}")
