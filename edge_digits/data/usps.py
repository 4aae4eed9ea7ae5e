"""USPS handwritten digits (Hull 1994: US mail, deslanted, 16x16, each digit filling its box): a second
writer population for training (its training part) and a cross-dataset test (its test part).

    d = load_usps(path)      # --usps PATH, else $EDGE_DIGITS_USPS; x uint8 (N, 16, 16) ink high, y uint8

The file is an .npz with x_train, y_train, x_test, y_test (the layout of mnist.npz). There is no download:
USPS has no canonical host a package could rely on, so a user passes the file.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from edge_digits.config import EdgeDigitsError
from edge_digits.core.files import sha256_file
from edge_digits.data.mnist import Digits

KEYS = ("x_train", "y_train", "x_test", "y_test")


def usps_path(path: Path | str | None = None) -> Path | None:
    p = path or os.environ.get("EDGE_DIGITS_USPS")
    return Path(p).expanduser() if p else None


def load_usps(path: Path | str | None = None) -> Digits:
    p = usps_path(path)
    if p is None:
        raise EdgeDigitsError("USPS not given: pass --usps PATH (an .npz with x_train, y_train, x_test, y_test) "
                              "or set EDGE_DIGITS_USPS")
    if not p.is_file():
        raise EdgeDigitsError(f"{p}: no such file")
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in KEYS if k not in z.files]
            if missing:
                raise EdgeDigitsError(f"{p}: not a USPS .npz, missing arrays {', '.join(missing)}")
            a = {k: z[k] for k in KEYS}
    except EdgeDigitsError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise EdgeDigitsError(f"{p}: cannot read as .npz ({type(e).__name__}: {e})") from None
    for split in ("train", "test"):
        x, y = a[f"x_{split}"], a[f"y_{split}"]
        if x.dtype != np.uint8 or x.ndim != 3 or len(x) == 0 or len(y) != len(x):
            raise EdgeDigitsError(f"{p}: x_{split} must be uint8 (N, H, W) with one label each, got {x.dtype} {x.shape}")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() > 9:
            raise EdgeDigitsError(f"{p}: y_{split} must hold integer labels 0..9")
    return Digits(*(np.ascontiguousarray(a[k], np.uint8) for k in KEYS), source=str(p), sha256=sha256_file(p),
                  full=len(a["x_test"]) == 2007)
