"""Keras on the .keras model: the reference, and the only runner that imports TensorFlow (lazily)."""
from __future__ import annotations

import numpy as np

from edge_digits.config import EdgeDigitsError, Runtime
from edge_digits.core.quiet import import_tensorflow
from edge_digits.runtime.base import Runner, _lut

class KerasRunner(Runner):
    """The reference. The only runner that imports TensorFlow."""

    runtime = Runtime.keras

    def __init__(self, path, threads=None, outputs=10):
        super().__init__(path, threads, outputs)
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            raise EdgeDigitsError("the keras runtime needs TensorFlow: pip install 'edge-digits[train]'") from None
        self.model = load_keras(self.path)
        shape = tuple(self.model.input_shape)
        if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 1:
            raise EdgeDigitsError(f"{self.path}: model input shape {shape}, expected (N, S, S, 1) "
                                  "(S = 28 for MNIST models, 8 for digits8x8)")
        self.size = shape[1]
        outs = self.model.outputs
        self.check_output(tuple(self.model.output_shape) if len(outs) == 1 else None, len(outs))
        self.lut = _lut(np.float32, 1.0, 0)

    def _run(self, x):
        return np.asarray(self.model(self.lut[x][..., None], training=False), dtype=np.float32)


def load_keras(path):
    """A saved .keras model, or one clear error naming the file (Keras raises many types for bad files)."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise EdgeDigitsError(f"{path}: no such model file")
    import_tensorflow()
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001
        raise EdgeDigitsError(f"{path}: cannot load as a Keras model ({type(e).__name__})") from None
