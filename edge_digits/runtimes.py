"""One small class per runtime behind one interface:

    runner = load("export/edge_int8.tflite")            # or runtime="onnxruntime", threads=1, ...
    probs = runner.predict(digits)                        # uint8 (N, 28, 28), ink high -> float32 (N, 10)

Each runner scales and quantizes its own input from the model's input block, so callers never care.
Only KerasRunner imports TensorFlow; it is the reference, never the edge path.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import artifacts
from .config import CAMERA_MODEL, DEFAULT_MODEL_FILE, EXPORT_DIR, EdgeDigitsError, Format, Runtime
from .tfenv import native_stderr_silenced

# Best first: what `auto` picks when the installed onnxruntime offers it.
ORT_PREFERRED = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "OpenVINOExecutionProvider",
                 "CoreMLExecutionProvider", "DmlExecutionProvider", "CPUExecutionProvider"]
ORT_SHORT = {p.removesuffix("ExecutionProvider").lower(): p for p in ORT_PREFERRED}
ORT_SHORT.update({"trt": "TensorrtExecutionProvider", "dml": "DmlExecutionProvider"})


def format_of(path: Path) -> Format:
    suffix = Path(path).suffix.lower()
    for f in Format:
        if suffix == f".{f.value}":
            return f
    raise EdgeDigitsError(f"{path}: unknown model type '{suffix}' (expected .tflite, .onnx or .keras)")


def resolve_model(model: Path | str | None, default: Path | None = None) -> Path:
    """None -> `default` (the shipped int8 TFLite); a folder -> its int8 TFLite, else its model.keras."""
    p = Path(model) if model else (default or EXPORT_DIR / DEFAULT_MODEL_FILE)
    if p.is_dir():
        for name in (DEFAULT_MODEL_FILE, CAMERA_MODEL.name, "model.keras"):
            if (p / name).is_file():
                return p / name
        raise EdgeDigitsError(f"{p}: folder holds no {DEFAULT_MODEL_FILE}, {CAMERA_MODEL.name} or model.keras")
    if not p.is_file():
        hint = " (the shipped models come from `make models`)" if model is None else ""
        raise EdgeDigitsError(f"{p}: no such model file{hint}")
    if p.stat().st_size == 0:
        raise EdgeDigitsError(f"{p}: model file is empty")
    return p


def select_providers(requested: str | list[str] | None, available: list[str]) -> tuple[list[str], str]:
    """Choose ONNX Runtime execution providers. `auto` takes every accelerator that is installed, best first,
    and says which it fell back from; explicit names (short `cuda` or full) must all be available."""
    if requested in (None, "auto", ["auto"]):
        chosen = [p for p in ORT_PREFERRED if p in available] or ["CPUExecutionProvider"]
        missing = [p.removesuffix("ExecutionProvider") for p in ORT_PREFERRED[:2] if p not in available]
        note = f"using {chosen[0].removesuffix('ExecutionProvider')}"
        if missing and chosen[0] == "CPUExecutionProvider":
            note += f" (fell back from {', '.join(missing)}: not available; install edge-digits[gpu])"
        return chosen, note
    names = [requested] if isinstance(requested, str) else list(requested)
    chosen = []
    for n in (s.strip() for part in names for s in part.split(",") if s.strip()):
        full = ORT_SHORT.get(n.lower(), n)
        if full not in ORT_PREFERRED and full not in available:
            raise EdgeDigitsError(f"unknown provider '{n}' (known: {', '.join(sorted(ORT_SHORT))})")
        if full not in available:
            raise EdgeDigitsError(f"provider '{n}' is not available here (available: "
                                  f"{', '.join(a.removesuffix('ExecutionProvider') for a in available)})")
        chosen.append(full)
    if not chosen:
        raise EdgeDigitsError("empty provider list")
    return chosen, f"using {chosen[0].removesuffix('ExecutionProvider')}"


def _lut(dtype: np.dtype, scale: float, zero_point: int) -> np.ndarray:
    """uint8 pixel -> model input value, as a 256-entry table: one gather per call instead of float math."""
    v = np.arange(256, dtype=np.float64) / 255.0
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.round(v / scale + zero_point), info.min, info.max).astype(dtype)
    return v.astype(dtype)


class Runner:
    """The interface every runtime implements: predict(uint8 (N,28,28)) -> float32 (N,10) probabilities."""

    runtime: Runtime
    provider: str | None = None
    note: str = ""

    def __init__(self, path: Path, threads: int | None = None):
        self.path, self.threads = Path(path), threads
        self.entry = artifacts.find_entry(self.path)
        self.size = 28

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = self.check_batch(x)
        try:
            return self._run(x)
        except (RuntimeError, ValueError) as e:  # a native runtime refusing a damaged model at run time
            raise EdgeDigitsError(f"{self.path}: {self.runtime.value} failed to run it "
                                  f"({str(e).splitlines()[0][:160]})") from None

    def check_batch(self, x) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise EdgeDigitsError(f"predict: expected a numpy array, got {type(x).__name__}")
        if x.dtype != np.uint8:
            raise EdgeDigitsError(f"predict: batch dtype is {x.dtype}, expected uint8 pixels 0..255")
        if x.ndim == 4 and x.shape[-1] == 1:
            x = x[..., 0]
        if x.ndim != 3 or x.shape[1:] != (self.size, self.size) or x.shape[0] == 0:
            raise EdgeDigitsError(f"predict: batch shape is {x.shape}, expected (N>=1, {self.size}, {self.size})")
        return x

    def _run(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> str:
        extra = f" {self.provider}" if self.provider else ""
        return f"{self.runtime.value}{extra} on {self.path.name}"


class LiteRTRunner(Runner):
    runtime = Runtime.litert

    def __init__(self, path, threads=None):
        super().__init__(path, threads)
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


class KerasRunner(Runner):
    """The reference. The only runner that imports TensorFlow."""

    runtime = Runtime.keras

    def __init__(self, path, threads=None):
        super().__init__(path, threads)
        try:
            from .tfenv import load_keras
        except ImportError:
            raise EdgeDigitsError("the keras runtime needs TensorFlow: pip install 'edge-digits[train]'") from None
        self.model = load_keras(self.path)
        shape = tuple(self.model.input_shape)
        if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 1:
            raise EdgeDigitsError(f"{self.path}: model input shape {shape}, expected (N, S, S, 1)")
        self.size = shape[1]
        self.lut = _lut(np.float32, 1.0, 0)

    def _run(self, x):
        return np.asarray(self.model(self.lut[x][..., None], training=False), dtype=np.float32)


def probe_in_subprocess(path: Path, rt: Runtime) -> None:
    """Load a file that no manifest vouches for in a child process first: native runtimes can die on a
    malformed file with a segfault, which no Python handler can turn into a clear message."""
    import subprocess
    import sys

    code = ("import sys, numpy as np; from edge_digits import runtimes as r; from edge_digits.config import Runtime;"
            "from edge_digits.config import EdgeDigitsError\n"
            "try:\n r.RUNTIMES[Runtime(sys.argv[2])](sys.argv[1]).predict(np.zeros((2, 28, 28), np.uint8))\n"
            "except EdgeDigitsError: pass\n")
    try:
        res = subprocess.run([sys.executable, "-c", code, str(path), rt.value], capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise EdgeDigitsError(f"{path}: {rt.value} hung while loading this file") from None
    if res.returncode < 0 or res.returncode > 1:
        raise EdgeDigitsError(f"{path}: {rt.value} crashed on this file (exit {res.returncode}); "
                              "it is malformed or not a model for this runtime")


RUNTIMES: dict[Runtime, type[Runner]] = {
    Runtime.litert: LiteRTRunner,
    Runtime.onnxruntime: OnnxRuntimeRunner,
    Runtime.opencv: OpenCVRunner,
    Runtime.keras: KerasRunner,
}
# Which runtimes can run which format; the first is the default.
FORMAT_RUNTIMES: dict[Format, list[Runtime]] = {
    Format.tflite: [Runtime.litert],
    Format.onnx: [Runtime.onnxruntime, Runtime.opencv],
    Format.keras: [Runtime.keras],
}


# What a runtime cannot run although it reads the format; the reason is what users and bench rows see.
UNSUPPORTED: dict[tuple[Runtime, str], str] = {
    (Runtime.opencv, "int8"): "cv2.dnn cannot load QDQ int8 ONNX (OpenCV 5.0: 'bufidx >= 0'); use onnxruntime",
    (Runtime.opencv, "fp16"): "cv2.dnn runs the float32 ONNX file only",
}


def unsupported(runtime: Runtime, precision: str | None) -> str | None:
    return UNSUPPORTED.get((runtime, precision or ""))


def load(model: Path | str | None = None, runtime: Runtime | str | None = None, threads: int | None = None,
         providers: str | list[str] | None = None, strict: bool = False, default: Path | None = None) -> Runner:
    """Open a model with a runtime (default: the natural one for its format) after checking its manifest hash.
    With no model: `default`, else the shipped int8 TFLite (camera and predict pass CAMERA_MODEL)."""
    path = resolve_model(model, default)
    fmt = format_of(path)
    if runtime is None:
        rt = FORMAT_RUNTIMES[fmt][0]
    else:
        try:
            rt = Runtime(runtime)
        except ValueError:
            raise EdgeDigitsError(f"unknown runtime '{runtime}' (choose from "
                                  f"{', '.join(r.value for r in Runtime)})") from None
    if rt not in FORMAT_RUNTIMES[fmt]:
        raise EdgeDigitsError(f"runtime {rt.value} cannot run .{fmt.value} files "
                              f"(use {', '.join(r.value for r in FORMAT_RUNTIMES[fmt])})")
    if threads is not None and threads <= 0:
        raise EdgeDigitsError(f"--threads must be > 0, got {threads}")
    entry = artifacts.find_entry(path)
    why = unsupported(rt, (entry or {}).get("precision"))
    if why:
        raise EdgeDigitsError(f"{path}: {why}")
    trusted = artifacts.check_hash(path, entry, strict) and entry is not None
    if not trusted and rt in (Runtime.litert, Runtime.onnxruntime, Runtime.opencv):
        probe_in_subprocess(path, rt)
    if rt == Runtime.onnxruntime:
        return OnnxRuntimeRunner(path, threads, providers)
    if providers not in (None, "auto"):
        raise EdgeDigitsError(f"--providers applies to the onnxruntime runtime only, not {rt.value}")
    return RUNTIMES[rt](path, threads)
