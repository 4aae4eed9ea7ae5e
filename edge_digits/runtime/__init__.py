"""One small class per runtime behind one interface:

    runner = runtime.load("export/edge_int8.tflite")      # or runtime="onnxruntime", threads=1, ...
    probs = runner.predict(digits)                          # uint8 (N, 28, 28), ink high -> float32 (N, 10)

Each runner scales and quantizes its own input from the model's input block, so callers never care.
Only the Keras runner imports TensorFlow; it is the reference, never the edge path. A file that no
manifest vouches for is loaded once in a child process first (probe_in_subprocess): a malformed model can
kill a native runtime outright, and only another process can turn that into a clear message.
"""
from __future__ import annotations

from pathlib import Path

from edge_digits.config import EdgeDigitsError, Format, Runtime, check_threads
from edge_digits.runtime import manifest as artifacts
from edge_digits.runtime.base import Runner, format_of, resolve_model  # noqa: F401 - the API
from edge_digits.runtime.keras_ref import KerasRunner
from edge_digits.runtime.litert import LiteRTRunner
from edge_digits.runtime.opencv_dnn import OpenCVRunner
from edge_digits.runtime.ort import OnnxRuntimeRunner
from edge_digits.runtime.providers import ORT_PREFERRED, ORT_SHORT, select_providers  # noqa: F401 - the API

PROBE_OK, PROBE_REFUSED = "edge-digits-probe: ok", "edge-digits-probe: refused"


def probe_in_subprocess(path: Path, rt: Runtime) -> None:
    """Load a file that no manifest vouches for in a child process first: native runtimes can die on a
    malformed file with a segfault, which no Python handler can turn into a clear message."""
    import subprocess
    import sys

    # The child says how it went in its last line: only PROBE_OK (it loaded and ran) or PROBE_REFUSED (our
    # own one-line check refused it; the load in this process then says why) count; any exit, crash or
    # exception without one is a failure.
    code = ("import sys, numpy as np; from edge_digits import runtime as r; from edge_digits.config import Runtime;"
            "from edge_digits.config import EdgeDigitsError\n"
            "try:\n r.RUNTIMES[Runtime(sys.argv[2])](sys.argv[1]).predict(np.zeros((2, 28, 28), np.uint8))\n"
            f"except EdgeDigitsError:\n print('{PROBE_REFUSED}')\n raise SystemExit(0)\n"
            f"print('{PROBE_OK}')\n")
    try:
        res = subprocess.run([sys.executable, "-c", code, str(path), rt.value], capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise EdgeDigitsError(f"{path}: {rt.value} hung while loading this file") from None
    said = (res.stdout.decode(errors="replace").strip().splitlines() or [""])[-1]
    if res.returncode == 0 and said in (PROBE_OK, PROBE_REFUSED):
        return
    if res.returncode < 0:
        why = f"crashed on this file (signal {-res.returncode})"
    else:
        err = [ln for ln in res.stderr.decode(errors="replace").splitlines() if ln.strip()]
        why = f"failed on this file (exit {res.returncode}{': ' + err[-1][:160] if err else ''})"
    raise EdgeDigitsError(f"{path}: {rt.value} {why}; it is malformed or not a model for this runtime")


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
         providers: str | list[str] | None = None, strict: bool = False, default: Path | None = None,
         outputs: int = 10) -> Runner:
    """Open a model with a runtime (default: the natural one for its format) after checking its manifest hash.
    With no model: `default`, else the shipped int8 TFLite (camera and predict pass config.camera_model())."""
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
    check_threads(threads)
    entry = artifacts.find_entry(path)
    why = unsupported(rt, (entry or {}).get("precision"))
    if why:
        raise EdgeDigitsError(f"{path}: {why}")
    trusted = artifacts.check_hash(path, entry, strict) and entry is not None
    if not trusted and rt in (Runtime.litert, Runtime.onnxruntime, Runtime.opencv):
        probe_in_subprocess(path, rt)
    if rt == Runtime.onnxruntime:
        return OnnxRuntimeRunner(path, threads, providers, outputs)
    if providers not in (None, "auto"):
        raise EdgeDigitsError(f"--providers applies to the onnxruntime runtime only, not {rt.value}")
    return RUNTIMES[rt](path, threads, outputs)
