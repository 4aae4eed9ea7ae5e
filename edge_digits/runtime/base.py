"""What every runtime shares: finding the model file, its format, and the Runner interface."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_digits import config
from edge_digits.config import DEFAULT_MODEL_FILE, EdgeDigitsError, Format, Runtime
from edge_digits.runtime import manifest as artifacts

def format_of(path: Path) -> Format:
    suffix = Path(path).suffix.lower()
    for f in Format:
        if suffix == f".{f.value}":
            return f
    raise EdgeDigitsError(f"{path}: unknown model type '{suffix}' (expected .tflite, .onnx or .keras)")


def resolve_model(model: Path | str | None, default: Path | None = None) -> Path:
    """None -> `default` (the shipped int8 TFLite); a folder -> its int8 TFLite, else its model.keras."""
    p = Path(model) if model else (default or config.default_model())
    if p.is_dir():
        for name in (DEFAULT_MODEL_FILE, config.camera_model().name, "model.keras"):
            if (p / name).is_file():
                return p / name
        raise EdgeDigitsError(f"{p}: folder holds no {DEFAULT_MODEL_FILE}, {config.camera_model().name} or model.keras")
    if not p.is_file():
        hint = " (the shipped models come from `make models`)" if model is None else ""
        raise EdgeDigitsError(f"{p}: no such model file{hint}")
    if p.stat().st_size == 0:
        raise EdgeDigitsError(f"{p}: model file is empty")
    return p

def _lut(dtype: np.dtype, scale: float, zero_point: int) -> np.ndarray:
    """uint8 pixel -> model input value, as a 256-entry table: one gather per call instead of float math."""
    v = np.arange(256, dtype=np.float64) / 255.0
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.round(v / scale + zero_point), info.min, info.max).astype(dtype)
    return v.astype(dtype)


class Runner:
    """The interface every runtime implements: predict(uint8 (N,28,28)) -> float32 (N,10) probabilities."""

    runtime: Runtime
    provider: str | None = None
    note: str = ""

    def __init__(self, path: Path, threads: int | None = None, outputs: int = 10):
        self.path, self.threads, self.outputs = Path(path), threads, outputs
        self.entry = artifacts.find_entry(self.path)
        self.size = 28

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = self.check_batch(x)
        try:
            return self._run(x)
        except (RuntimeError, ValueError) as e:  # a native runtime refusing a damaged model at run time
            raise EdgeDigitsError(f"{self.path}: {self.runtime.value} failed to run it "
                                  f"({str(e).splitlines()[0][:160]})") from None

    def check_output(self, shape, count: int = 1) -> None:
        """At load: one output of shape (N, outputs), N free (10 scores, one per digit, for a classifier); a
        model with other outputs is refused in one line."""
        shape, k = (list(shape) if shape is not None else None), self.outputs
        if count != 1:
            raise EdgeDigitsError(f"{self.path}: model has {count} outputs, expected one (N, {k}) output")
        if shape is None or len(shape) != 2 or (isinstance(shape[1], (int, np.integer)) and shape[1] != k):
            what = ": one score per digit" if k == 10 else ""
            raise EdgeDigitsError(f"{self.path}: model output shape {shape}, expected (N, {k}){what}")

    def check_batch(self, x) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise EdgeDigitsError(f"predict: expected a numpy array, got {type(x).__name__}")
        if x.dtype != np.uint8:
            raise EdgeDigitsError(f"predict: batch dtype is {x.dtype}, expected uint8 pixels 0..255")
        if x.ndim == 4 and x.shape[-1] == 1:
            x = x[..., 0]
        if x.ndim != 3 or x.shape[1:] != (self.size, self.size) or x.shape[0] == 0:
            raise EdgeDigitsError(f"predict: batch shape is {x.shape}, expected (N>=1, {self.size}, {self.size})")
        return x

    def _run(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> str:
        extra = f" {self.provider}" if self.provider else ""
        return f"{self.runtime.value}{extra} on {self.path.name}"


def predict_all(predict, x: np.ndarray, batch: int = 1000) -> np.ndarray:
    """The accuracy loop's one job: predict(x) over a whole test set in batches (bounded memory)."""
    return np.concatenate([predict(np.ascontiguousarray(x[i:i + batch])) for i in range(0, len(x), batch)])


def accuracy(predict, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    return float((predict_all(predict, x, batch).argmax(1) == y).mean())
