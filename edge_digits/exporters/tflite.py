"""TFLite: float32, float16 and full-integer int8 through TFLiteConverter, and our metadata inside the file."""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

import numpy as np

from edge_digits.exporters.base import Source, _float01

TFLITE_METADATA_NAME = "edge_digits"


class _QuietConverter:
    """Keras' export step prints its signature to stdout; keep stdout clean for --json users."""

    def __init__(self, conv):
        self.conv = conv

    def __getattr__(self, k):
        return getattr(self.conv, k)

    def __setattr__(self, k, v):
        if k == "conv":
            object.__setattr__(self, k, v)
        else:
            setattr(self.conv, k, v)

    def convert(self) -> bytes:
        with contextlib.redirect_stdout(sys.stderr if os.environ.get("EDGE_DIGITS_DEBUG") else io.StringIO()):
            return self.conv.convert()


def _tflite_converter(src: Source):
    import tensorflow as tf

    # from_keras_model freezes the weights into the file and keeps the batch dimension free (-1).
    return _QuietConverter(tf.lite.TFLiteConverter.from_keras_model(src.model))

def write_tflite_fp32(src: Source, dst: Path, calib: np.ndarray) -> None:
    dst.write_bytes(_tflite_converter(src).convert())


def write_tflite_fp16(src: Source, dst: Path, calib: np.ndarray) -> None:
    import tensorflow as tf

    conv = _tflite_converter(src)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]
    dst.write_bytes(conv.convert())


def write_tflite_int8(src: Source, dst: Path, calib: np.ndarray) -> None:
    """Full-integer: int8 weights and activations, int8 input and output."""
    import tensorflow as tf

    conv = _tflite_converter(src)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([_float01(calib[i:i + 1])] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    dst.write_bytes(conv.convert())

def _embed_tflite_metadata(path: Path, meta: dict) -> None:
    """Add a named metadata buffer (JSON) to a .tflite file with TF's own flatbuffer tools; interpreters ignore
    metadata, so the model runs unchanged (verified right after, like every artifact)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(path.read_bytes()))
    buf = schema.BufferT()
    buf.data = list(json.dumps(meta).encode())
    model.buffers.append(buf)
    md = schema.MetadataT()
    md.name, md.buffer = TFLITE_METADATA_NAME, len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name != TFLITE_METADATA_NAME.encode()] + [md]
    path.write_bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read_tflite_metadata(path: Path) -> dict | None:
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(Path(path).read_bytes()))
    for m in model.metadata or []:
        if m.name in (TFLITE_METADATA_NAME, TFLITE_METADATA_NAME.encode()):
            return json.loads(bytes(model.buffers[m.buffer].data).decode())
    return None
