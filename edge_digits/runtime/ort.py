"""ONNX Runtime on .onnx files, on the best execution provider installed."""
from __future__ import annotations

import numpy as np

from edge_digits.config import EdgeDigitsError, Runtime
from edge_digits.runtime.base import Runner, _lut
from edge_digits.runtime.providers import select_providers

class OnnxRuntimeRunner(Runner):
    runtime = Runtime.onnxruntime

    def __init__(self, path, threads=None, providers=None):
        super().__init__(path, threads)
        import onnxruntime as ort

        chosen, self.note = select_providers(providers, ort.get_available_providers())
        so = ort.SessionOptions()
        if threads:
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
        so.log_severity_level = 3
        try:
            self.sess = ort.InferenceSession(str(self.path), sess_options=so, providers=chosen)
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types for bad files
            raise EdgeDigitsError(f"{self.path}: ONNX Runtime cannot load it ({str(e).splitlines()[0][:160]})") from None
        self.provider = self.sess.get_providers()[0].removesuffix("ExecutionProvider")
        inp = self.sess.get_inputs()[0]
        shape = inp.shape
        if len(shape) not in (3, 4) or list(shape[1:3]) != [28, 28] or (len(shape) == 4 and shape[3] != 1):
            raise EdgeDigitsError(f"{self.path}: model input shape {shape}, expected (N, 28, 28, 1)")
        self.in_name, self.rank = inp.name, len(shape)
        self.lut = _lut(np.float32, 1.0, 0)

    def _run(self, x):
        xi = self.lut[x]
        if self.rank == 4:
            xi = xi[..., None]
        return self.sess.run(None, {self.in_name: xi})[0].astype(np.float32, copy=False)
