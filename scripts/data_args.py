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
