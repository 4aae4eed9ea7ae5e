"""ONNX Runtime on .onnx files, on the best execution provider installed."""
from __future__ import annotations

import numpy as np

from edge_digits.config import EdgeDigitsError, Runtime
from edge_digits.runtime.base import Runner, _lut
from edge_digits.runtime.providers import select_providers

# What an ONNX input tensor type takes: float models get pixels scaled to 0..1 in their own float type,
# a uint8 model the pixels as they are.
ORT_INPUT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
                   "tensor(uint8)": np.uint8}


class OnnxRuntimeRunner(Runner):
    runtime = Runtime.onnxruntime

    def __init__(self, path, threads=None, providers=None, outputs=10):
        super().__init__(path, threads, outputs)
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
        inputs, outputs = self.sess.get_inputs(), self.sess.get_outputs()
        if len(inputs) != 1:
            raise EdgeDigitsError(f"{self.path}: model has {len(inputs)} inputs, expected one (N, 28, 28, 1) image input")
        inp = inputs[0]
        shape = inp.shape
        if len(shape) not in (3, 4) or list(shape[1:3]) != [28, 28] or (len(shape) == 4 and shape[3] != 1):
            raise EdgeDigitsError(f"{self.path}: model input shape {shape}, expected (N, 28, 28, 1)")
        self.check_output(outputs[0].shape if len(outputs) == 1 else None, len(outputs))
        dtype = ORT_INPUT_TYPES.get(inp.type)
        if dtype is None:
            raise EdgeDigitsError(f"{self.path}: model input type {inp.type}, expected float, float16, double or uint8")
        self.in_name, self.rank = inp.name, len(shape)
        # a model exported with a fixed batch (often 1) is run in chunks of that size
        self.fixed_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        self.lut = np.arange(256, dtype=np.uint8) if dtype == np.uint8 else _lut(dtype, 1.0, 0)

    def _run(self, x):
        xi = self.lut[x]
        if self.rank == 4:
            xi = xi[..., None]
        try:
            if self.fixed_batch is None:
                return self._call(xi)
            b, n = self.fixed_batch, len(xi)
            out = []
            for i in range(0, n, b):
                chunk = xi[i:i + b]
                if len(chunk) < b:  # pad the last chunk to the model's batch, keep only the real rows
                    chunk = np.concatenate([chunk, np.zeros((b - len(chunk), *chunk.shape[1:]), chunk.dtype)])
                out.append(self._call(chunk))
            return np.concatenate(out)[:n]
        except EdgeDigitsError:
            raise
        except Exception as e:  # noqa: BLE001 - onnxruntime's Fail, InvalidArgument, ... are not RuntimeError
            raise RuntimeError(str(e).splitlines()[0] if str(e) else type(e).__name__) from None

    def _call(self, xi):
        return np.asarray(self.sess.run(None, {self.in_name: xi})[0]).astype(np.float32, copy=False)
