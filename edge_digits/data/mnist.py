"""MNIST loading and checks, the bundled sample, calibration samples.

Everything returns uint8 images (N, H, W), ink high on black, and uint8 labels: the one input format
every model and runtime in this package agrees on.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_digits.core.files import sha256_file
from edge_digits.config import Dataset, EdgeDigitsError, sample_path

KERAS_CACHE = Path.home() / ".keras" / "datasets" / "mnist.npz"
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
FULL_ROWS = {"train": 60000, "test": 10000}


@dataclass
class Digits:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # where it came from, for reports
    sha256: str  # of the file(s) read
    full: bool  # the complete MNIST (60000/10000), not a sample

    @property
    def eval_set(self) -> str:
        return "full" if self.full else "sample"


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in IDX_FILES if k not in z.files]
            if missing:
                raise EdgeDigitsError(f"{path}: not an MNIST .npz, missing arrays {', '.join(missing)}")
            return {k: z[k] for k in IDX_FILES}
    except EdgeDigitsError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise EdgeDigitsError(f"{path}: cannot read as .npz ({type(e).__name__}: {e})") from None


def _read_idx(path: Path) -> np.ndarray:
    # IDX is four lines of struct parsing; no maintained library reads it without pulling in a framework.
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise EdgeDigitsError(f"{path}: cannot read IDX file ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise EdgeDigitsError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise EdgeDigitsError(f"{path}: truncated IDX header")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    count = int(np.prod(dims))
    if len(raw) - header != count:
        raise EdgeDigitsError(f"{path}: IDX data has {len(raw) - header} bytes, header says {count}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _read_idx_folder(folder: Path) -> tuple[dict[str, np.ndarray], list[Path]]:
    arrays, files = {}, []
    for key, stem in IDX_FILES.items():
        cands = [folder / stem, folder / (stem + ".gz"), folder / stem.replace("-idx", ".idx"),
                 folder / (stem.replace("-idx", ".idx") + ".gz")]
        found = next((c for c in cands if c.is_file()), None)
        if found is None:
            raise EdgeDigitsError(f"{folder}: no {stem}[.gz] in this folder (need the four MNIST IDX files)")
        arrays[key] = _read_idx(found)
        files.append(found)
    return arrays, files


def check_arrays(a: dict[str, np.ndarray], name: str, full: bool | None = None) -> bool:
    """Validate MNIST-layout arrays; return True when they are the complete 60000/10000 set."""
    for split in ("train", "test"):
        x, y = a[f"x_{split}"], a[f"y_{split}"]
        if x.dtype != np.uint8:
            raise EdgeDigitsError(f"{name}: x_{split} has dtype {x.dtype}, expected uint8 pixels 0..255")
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise EdgeDigitsError(f"{name}: x_{split} has shape {x.shape}, expected (N, 28, 28)")
        if y.ndim != 1 or len(y) != len(x):
            raise EdgeDigitsError(f"{name}: y_{split} has shape {y.shape}, expected ({len(x)},)")
        if not np.issubdtype(y.dtype, np.integer) or len(y) and (y.min() < 0 or y.max() > 9):
            raise EdgeDigitsError(f"{name}: y_{split} must hold integer labels 0..9")
        if len(x) == 0:
            raise EdgeDigitsError(f"{name}: x_{split} is empty")
        if x.max() == 0:
            raise EdgeDigitsError(f"{name}: x_{split} is all zeros")
    is_full = len(a["x_train"]) == FULL_ROWS["train"] and len(a["x_test"]) == FULL_ROWS["test"]
    if full and not is_full:
        raise EdgeDigitsError(
            f"{name}: has {len(a['x_train'])}/{len(a['x_test'])} train/test rows, expected 60000/10000")
    return is_full


def _from_path(path: Path, full: bool | None) -> Digits:
    path = Path(path).expanduser()
    if path.is_dir():
        arrays, files = _read_idx_folder(path)
        h = hashlib.sha256("".join(sha256_file(f) for f in files).encode()).hexdigest()
    elif path.is_file():
        arrays, h = _read_npz(path), sha256_file(path)
    else:
        raise EdgeDigitsError(f"{path}: no such file or folder")
    is_full = check_arrays(arrays, str(path), full)
    arrays = {k: np.ascontiguousarray(v, dtype=np.uint8) for k, v in arrays.items()}
    return Digits(**arrays, source=str(path), sha256=h, full=is_full)


def load_mnist(path: Path | str | None = None, *, download: bool = True) -> Digits:
    """Find MNIST: explicit path -> $EDGE_DIGITS_DATA -> Keras' cache -> the Keras download."""
    if path:
        return _from_path(Path(path), full=None)
    env = os.environ.get("EDGE_DIGITS_DATA")
    if env:
        return _from_path(Path(env), full=None)
    if KERAS_CACHE.is_file():
        return _from_path(KERAS_CACHE, full=True)
    if download:
        try:
            import keras  # only the training extra has it

            keras.datasets.mnist.load_data()
            if KERAS_CACHE.is_file():
                return _from_path(KERAS_CACHE, full=True)
        except Exception:  # noqa: BLE001 - any download failure leads to the same advice below
            pass
    raise EdgeDigitsError(
        "MNIST not found: pass --data PATH (mnist.npz or a folder of IDX files), set EDGE_DIGITS_DATA, "
        f"or put Keras' mnist.npz at {KERAS_CACHE} (the Keras download failed or is not installed)")


def load_sample() -> Digits:
    """The small deterministic MNIST sample shipped in the repo (made by scripts/make_sample.py)."""
    path = sample_path()
    if not path.is_file():
        raise EdgeDigitsError(f"{path}: bundled sample missing; run scripts/make_sample.py")
    d = _from_path(path, full=False)
    d.full = False
    return d


def load_sklearn_digits(seed: int = 0) -> Digits:
    """scikit-learn's bundled 8x8 digits (1,797 images), scaled to uint8, 80/20 split."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise EdgeDigitsError("--dataset sklearn-digits needs scikit-learn: pip install 'edge-digits[train]'") from None
    d = load_digits()
    x = np.clip(d.images * (255.0 / 16.0), 0, 255).round().astype(np.uint8)
    y = d.target.astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(len(x) * 0.8)
    tr, te = order[:cut], order[cut:]
    h = hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()
    return Digits(x[tr], y[tr], x[te], y[te], source="sklearn.datasets.load_digits", sha256=h, full=True)


def load_dataset(dataset: Dataset, path: Path | None = None, seed: int = 0) -> Digits:
    if dataset == Dataset.sklearn_digits:
        return load_sklearn_digits(seed)
    if dataset == Dataset.sample:
        return load_sample()
    return load_mnist(path)


def load_eval_set(path: Path | None = None) -> Digits:
    """The full MNIST test set when it can be found offline, else the bundled sample (said in reports)."""
    try:
        return load_mnist(path, download=False)
    except EdgeDigitsError:
        if path:
            raise
        return load_sample()


def calibration_samples(x_train: np.ndarray, n: int = 500, seed: int = 0) -> np.ndarray:
    """A deterministic random subset of the *training* images for int8 calibration."""
    if n <= 0:
        raise EdgeDigitsError(f"--calib-samples must be > 0, got {n}")
    n = min(n, len(x_train))
    idx = np.random.default_rng(seed).choice(len(x_train), size=n, replace=False)
    return x_train[np.sort(idx)]
