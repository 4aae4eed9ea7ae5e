"""What every exporter shares: the source model, the Exporter record, and the float input the converters see."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from edge_digits.config import EdgeDigitsError, Format, Precision
from edge_digits.runtime.keras_ref import load_keras

METADATA_KEYS = ("format", "precision", "labels", "preprocess", "source")


@dataclass
class Source:
    model: object  # keras.Model
    path: Path
    arch: str
    metrics: dict


@dataclass(frozen=True)
class Exporter:
    format: Format
    precision: Precision
    write: Callable[[Source, Path, np.ndarray], None]  # (source, destination file, calibration uint8 images)

    @property
    def filename_suffix(self) -> str:
        return f"{self.precision.value}.{self.format.value}"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _serving_fn(model):
    import tensorflow as tf

    # An explicit input signature with a free batch dimension: tf2onnx's from_keras breaks on Keras 3, and
    # the TFLite converter keeps the batch resizable only when the signature says None.
    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32, name="input")
    return tf.function(lambda x: model(x, training=False), input_signature=[spec])

def _float01(x: np.ndarray) -> np.ndarray:
    return (x.astype(np.float32) / 255.0)[..., None]

def load_source(path: Path) -> Source:
    path = Path(path)
    run = path if path.is_dir() else path.parent
    model_path = path / "model.keras" if path.is_dir() else path
    if not model_path.is_file():
        raise EdgeDigitsError(f"{model_path}: no such model file (give a .keras file or a run folder)")
    import edge_digits.training.detector_model  # noqa: F401 - registers the detector's custom layer with Keras

    model = load_keras(model_path)
    from edge_digits.exporters.detector import is_detector

    if tuple(model.input_shape[1:]) != (28, 28, 1) and not is_detector(model):  # a classifier, or the detector
        raise EdgeDigitsError(f"{model_path}: input shape {model.input_shape}, export takes 28x28x1 MNIST models "
                              f"and the HxWx1 detector (H and W multiples of 16)")
    metrics = {}
    if (run / "metrics.json").is_file():
        metrics = json.loads((run / "metrics.json").read_text())
    arch = metrics.get("arch") or model.name
    return Source(model, model_path, arch, metrics)
