"""LiteRT (ai-edge-litert, with XNNPACK): the edge runtime of .tflite files."""
from __future__ import annotations

import os

import numpy as np

from edge_digits.config import EdgeDigitsError, Runtime
from edge_digits.core.quiet import native_stderr_silenced
from edge_digits.runtime.base import Runner, _lut

class LiteRTRunner(Runner):
    runtime = Runtime.litert

    def __init__(self, path, threads=None, outputs=10):
        super().__init__(path, threads, outputs)
        with open(self.path, "rb") as f:
            head = f.read(8)
        # Check the flatbuffer identifier ourselves: some malformed files crash the native loader outright.
        if len(head) < 8 or head[4:8] != b"TFL3":
            raise EdgeDigitsError(f"{self.path}: not a TFLite flatbuffer (bad file identifier)")
        from ai_edge_litert.interpreter import Interpreter

        try:
            with native_stderr_silenced():  # LiteRT announces its XNNPACK delegate on every load
                self.interp = Interpreter(model_path=str(self.path), num_threads=threads or os.cpu_count())
                self.interp.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise EdgeDigitsError(f"{self.path}: LiteRT cannot load it ({str(e).splitlines()[0]})") from None
        inp, out = self.interp.get_input_details()[0], self.interp.get_output_details()[0]
        shape = [int(s) for s in inp["shape"]]
        if len(shape) not in (3, 4) or shape[1:3] != [28, 28] or (len(shape) == 4 and shape[3] != 1):
            raise EdgeDigitsError(f"{self.path}: model input shape {shape}, expected (N, 28, 28, 1)")
        outs = self.interp.get_output_details()
        self.check_output([int(s) for s in out["shape"]], len(outs))
        self.in_idx, self.out_idx, self.in_shape = inp["index"], out["index"], shape
        scale, zp = inp["quantization"]
        self.lut = _lut(inp["dtype"], scale or 1.0, zp) if scale else _lut(inp["dtype"], 1.0, 0)
        oscale, ozp = out["quantization"]
        self.out_q = (oscale, ozp) if oscale else None
        self.batch = shape[0]

    def _run(self, x):
        n = len(x)
        if n != self.batch:
            self.interp.resize_tensor_input(self.in_idx, [n] + self.in_shape[1:])
            self.interp.allocate_tensors()
            self.batch = n
        self.interp.set_tensor(self.in_idx, self.lut[x].reshape([n] + self.in_shape[1:]))
        self.interp.invoke()
        y = self.interp.get_tensor(self.out_idx)
        if self.out_q:
            return (y.astype(np.float32) - self.out_q[1]) * np.float32(self.out_q[0])
        return y.astype(np.float32, copy=False)
