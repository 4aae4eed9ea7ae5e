"""Fully convolutional image models (the digit detector): a uint8 grey frame in, its output maps out.

    net = load_maps("export/detector/detector_fp16.tflite", threads=1)
    outputs = net.run(grey)      # uint8 (H, W) at net.in_size -> [float32 (h, w, c), ...] in the model's order

The classifier runners (runtime.load) take a batch of 28x28 digits; this takes one whole frame. Each runner
quantizes its own input and dequantizes its outputs from the model, as runtime.load's runners do.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edge_digits.config import EdgeDigitsError
from edge_digits.core.quiet import native_stderr_silenced
from edge_digits.runtime import manifest as artifacts


def _quantize(x: np.ndarray, dtype, scale: float, zero: int) -> np.ndarray:
    """uint8 grey values (the net scales them itself) -> the model's input type."""
    dtype = np.dtype(dtype)
    if dtype == np.float32 or dtype == np.float16:
        return x.astype(dtype)
    if not scale or (dtype == np.uint8 and scale == 1.0 and zero == 0):
        return x.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x.astype(np.float32) / scale + zero), info.min, info.max).astype(dtype)


class LiteRTMaps:
    def __init__(self, path: Path, threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        with open(path, "rb") as f:
            head = f.read(8)
        if len(head) < 8 or head[4:8] != b"TFL3":
            raise EdgeDigitsError(f"{path}: not a TFLite flatbuffer (bad file identifier)")
        try:
            with native_stderr_silenced():  # LiteRT announces its XNNPACK delegate on every load
                self.interp = Interpreter(model_path=str(path), num_threads=threads or os.cpu_count())
                self.interp.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise EdgeDigitsError(f"{path}: LiteRT cannot load it ({str(e).splitlines()[0]})") from None
        d = self.interp.get_input_details()[0]
        shape = [int(s) for s in d["shape"]]
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 1:
            raise EdgeDigitsError(f"{path}: input shape {shape}, expected (1, H, W, 1): a grey frame")
        self.in_size = (shape[2], shape[1])
        self.in_idx, self.in_dtype, (self.in_scale, self.in_zero) = d["index"], d["dtype"], d["quantization"]
        self.outs = [(o["index"], o["quantization"]) for o in self.interp.get_output_details()]

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        self.interp.set_tensor(self.in_idx, _quantize(x, self.in_dtype, self.in_scale, self.in_zero)[None, :, :, None])
        self.interp.invoke()
        res = []
        for idx, (s, z) in self.outs:
            q = self.interp.get_tensor(idx)[0]
            res.append((q.astype(np.float32) - z) * np.float32(s) if s else q.astype(np.float32, copy=False))
        return res


class OrtMaps:
    def __init__(self, path: Path, threads: int = 1, providers=None):
        import onnxruntime as ort

        from edge_digits.runtime.providers import select_providers

        chosen, self.note = select_providers(providers, ort.get_available_providers())
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = threads or 0, 1, 3
        try:
            self.sess = ort.InferenceSession(str(path), sess_options=so, providers=chosen)
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types for bad files
            raise EdgeDigitsError(f"{path}: ONNX Runtime cannot load it ({str(e).splitlines()[0][:160]})") from None
        inp = self.sess.get_inputs()[0]
        shape = inp.shape
        if len(shape) != 4 or not all(isinstance(s, int) for s in shape[1:3]) or shape[3] != 1:
            raise EdgeDigitsError(f"{path}: input shape {shape}, expected (N, H, W, 1) with H, W fixed")
        self.in_size, self.in_name = (shape[2], shape[1]), inp.name
        self.in_dtype = np.float16 if "float16" in inp.type else np.float32

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        out = self.sess.run(None, {self.in_name: x.astype(self.in_dtype)[None, :, :, None]})
        return [np.asarray(o[0], np.float32) for o in out]


def load_maps(path: Path | str, threads: int = 1, providers=None):
    """A detector-style model by its suffix (.tflite: LiteRT, .onnx: ONNX Runtime), after its manifest hash."""
    path = Path(path)
    if not path.is_file():
        raise EdgeDigitsError(f"{path}: no such model file")
    if not 1 <= threads <= 256:
        raise EdgeDigitsError(f"--threads must be in 1..256, got {threads}")
    artifacts.check_hash(path, artifacts.find_entry(path))
    if path.suffix.lower() == ".tflite":
        return LiteRTMaps(path, threads)
    if path.suffix.lower() == ".onnx":
        return OrtMaps(path, threads, providers)
    raise EdgeDigitsError(f"{path}: a detector is a .tflite or .onnx file")
