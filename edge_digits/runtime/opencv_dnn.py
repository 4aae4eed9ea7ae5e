"""OpenCV's dnn module on the float ONNX file: no extra runtime where OpenCV is installed already."""
from __future__ import annotations

import numpy as np

from edge_digits.config import EdgeDigitsError, Runtime
from edge_digits.runtime.base import Runner, _lut

class OpenCVRunner(Runner):
    """cv2.dnn on the float ONNX model: no extra runtime to install where OpenCV is already there."""

    runtime = Runtime.opencv

    def __init__(self, path, threads=None):
        super().__init__(path, threads)
        import cv2

        if threads:
            cv2.setNumThreads(threads)
        try:
            self.net = cv2.dnn.readNetFromONNX(str(self.path))
        except cv2.error as e:
            raise EdgeDigitsError(f"{self.path}: OpenCV dnn cannot load it ({str(e).strip().splitlines()[-1][:160]})") from None
        self.lut = _lut(np.float32, 1.0, 0)

    def _run(self, x):
        self.net.setInput(np.ascontiguousarray(self.lut[x][..., None]))
        return np.asarray(self.net.forward(), dtype=np.float32).reshape(len(x), -1)
