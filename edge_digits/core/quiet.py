"""Keeping native libraries' start-up chatter off the user's terminal without touching other threads."""
from __future__ import annotations

import contextlib
import os
import sys
import threading

_lock = threading.Lock()


@contextlib.contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at /dev/null for the block. Native code (TF's absl, LiteRT's delegate
    notice) writes there before any Python-level setting is read, so this is the only way to keep it off
    the terminal. It is process-wide while it lasts, so callers keep the block to the one native call;
    EDGE_DIGITS_DEBUG=1 leaves stderr alone."""
    if os.environ.get("EDGE_DIGITS_DEBUG"):
        yield
        return
    with _lock:
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


def quiet_opencv() -> None:
    """OpenCV's own log (video backends probing a camera index, FFmpeg on a damaged file) to errors only."""
    try:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except (ImportError, AttributeError):
        pass


def import_tensorflow():
    """The tensorflow module, imported (and its GPU probe run) with native logging silenced: TF logs its
    start-up (oneDNN notes, CUDA probing) through absl before TF_CPP_MIN_LOG_LEVEL is read."""
    if "tensorflow" in sys.modules and sys.modules["tensorflow"] is not None:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_silenced():
        import tensorflow as tf

        tf.config.list_logical_devices("GPU")  # the CUDA probe logs too; do it here, once
    return tf
