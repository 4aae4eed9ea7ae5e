"""Import TensorFlow quietly (this module itself imports no TensorFlow). TF 2.2x logs its start-up (oneDNN notes, CUDA probing) through absl before
TF_CPP_MIN_LOG_LEVEL is read, straight to file descriptor 2, so the only way to keep a user's terminal clean
is to point that descriptor elsewhere while TensorFlow starts. Python-level errors still surface as usual."""
from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced():
    if os.environ.get("EDGE_DIGITS_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def tensorflow():
    """The tensorflow module, imported (and its GPU probe run) with native logging silenced."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_silenced():
        import tensorflow as tf

        tf.config.list_logical_devices("GPU")  # the CUDA probe logs too; do it here, once
    return tf


def load_keras(path):
    """A saved .keras model, or one clear error naming the file (Keras raises many types for bad files)."""
    from pathlib import Path

    from .config import EdgeDigitsError

    path = Path(path)
    if not path.is_file():
        raise EdgeDigitsError(f"{path}: no such model file")
    tensorflow()
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001
        raise EdgeDigitsError(f"{path}: cannot load as a Keras model ({type(e).__name__})") from None
