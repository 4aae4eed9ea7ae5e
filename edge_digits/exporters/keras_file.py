"""The .keras model itself, copied beside its exports so a manifest describes the reference too."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from edge_digits.exporters.base import Source


def write_keras(src: Source, dst: Path, calib: np.ndarray) -> None:
    shutil.copyfile(src.path, dst)
