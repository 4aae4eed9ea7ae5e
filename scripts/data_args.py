"""The two data options every measuring script takes (full MNIST and USPS), and their check: one place, so
each script's --help and its error for a missing file read alike."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_data_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--mnist", required=True, help="MNIST .npz (Keras' mnist.npz)")
    ap.add_argument("--usps", required=True, help="USPS .npz (x_train, y_train, x_test, y_test, 16x16)")


def check_data_args(a: argparse.Namespace) -> None:
    """A one-line error and exit code 1 for a data file that is not there."""
    for p in (a.mnist, a.usps):
        if not Path(p).is_file():
            sys.exit(f"error: {p}: no such file")


def add_fit_args(ap: argparse.ArgumentParser, out_help: str) -> None:
    """The options of the scripts that fit a decision of the learned reader on training pages
    (train_accept.py, train_links.py): the data, how many pages, in how many processes, where to."""
    ap.add_argument("--data", help="MNIST .npz (default: $EDGE_DIGITS_DATA or Keras' cache)")
    ap.add_argument("--usps", help="USPS .npz (default: $EDGE_DIGITS_USPS; without it, MNIST digits only)")
    ap.add_argument("--pages", type=int, default=1500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True, help=out_help)
    ap.add_argument("--detector", help="detector file whose candidates are fitted (default: the shipped one)")


def fit_sets(a: argparse.Namespace):
    """The checked options -> the training digit pools (training.detector.split_sets); bad values are a
    one-line EdgeDigitsError."""
    from edge_digits.config import EdgeDigitsError

    if not 1 <= a.pages <= 100_000:
        raise EdgeDigitsError(f"--pages must be in 1..100000, got {a.pages}")
    if not 1 <= a.workers <= 64:
        raise EdgeDigitsError(f"--workers must be in 1..64, got {a.workers}")
    if a.detector and not Path(a.detector).is_file():
        raise EdgeDigitsError(f"{a.detector}: no such detector file")
    from edge_digits.data.mnist import load_mnist
    from edge_digits.data.usps import load_usps, usps_path
    from edge_digits.training.detector import split_sets

    usps = load_usps(a.usps) if usps_path(a.usps) else None
    return split_sets(load_mnist(a.data), usps, "train")


def run_on_export_folder(main, doc: str) -> None:
    """The command line of a script that reads one export folder (bench_export.py, model_card.py): main(folder),
    a bad folder a one-line error."""
    from edge_digits.config import EdgeDigitsError

    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("folder", nargs="?", default="export", help="export folder with manifest.json")
    try:
        main(ap.parse_args().folder)
    except EdgeDigitsError as e:
        sys.exit(f"error: {e}")
