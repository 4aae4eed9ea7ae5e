"""OpenCV's dnn module on the float ONNX file: no extra runtime where OpenCV is installed already."""
from __future__ import annotations

import numpy as np

from edge_digits.config import EdgeDigitsError, Runtime
from edge_digits.runtime.base import Runner, _lut

class OpenCVRunner(Runner):
    """cv2.dnn on the float ONNX model: no extra runtime to install where OpenCV is already there."""

    runtime = Runtime.opencv

    def __init__(self, path, threads=None, outputs=10):
        super().__init__(path, threads, outputs)
        import cv2

        if threads:
            cv2.setNumThreads(threads)
        try:
            self.net = cv2.dnn.readNetFromONNX(str(self.path))
        except cv2.error as e:
            raise EdgeDigitsError(f"{self.path}: OpenCV dnn cannot load it ({str(e).strip().splitlines()[-1][:160]})") from None
        self.lut = _lut(np.float32, 1.0, 0)
        names = self.net.getUnconnectedOutLayersNames()
        try:  # cv2.dnn reads no static shapes: one small forward pass at load shows what comes out
            y = self._run(np.zeros((2, 28, 28), np.uint8), check=False)
        except cv2.error as e:
            raise EdgeDigitsError(f"{self.path}: OpenCV dnn cannot run it ({str(e).strip().splitlines()[-1][:160]})") from None
        self.check_output(y.shape, len(names))

    def _run(self, x, check=True):
        import cv2

        self.net.setInput(np.ascontiguousarray(self.lut[x][..., None]))
        try:
            y = np.asarray(self.net.forward(), dtype=np.float32)
        except cv2.error as e:
            if not check:
                raise
            raise RuntimeError(str(e).strip().splitlines()[-1]) from None
        return y.reshape(len(x), -1) if y.size % len(x) == 0 else y
