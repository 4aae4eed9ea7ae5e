"""What `edge-digits bench` will run: options -> a checked BenchConfig -> the plan, one dict per row.

The plan is a pure function of the manifest, the options and what is installed (ONNX Runtime providers,
TensorFlow, a GPU), each passed in or cheaply probed without importing TensorFlow, so the selection and
skipping logic is tested with faked provider lists. Format/runtime/provider names come from config.py and
runtimes.py's tables only.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

from edge_digits.runtime import manifest as artifacts
from edge_digits.config import (DEFAULT_MODEL_FILE, REPO_DIR, EdgeDigitsError, Format, Precision, Runtime, check_number,
                               check_threads, models_dir)
from edge_digits.runtime import FORMAT_RUNTIMES, ORT_PREFERRED, unsupported
from edge_digits.runtime.providers import parse_providers

DEFAULT_BATCHES = [1, 8, 64, 256]
CPU = "CPUExecutionProvider"
# The GPU providers the issue asks for: rows for them always appear, skipped when absent.
GPU_PROVIDERS = ["TensorrtExecutionProvider", "CUDAExecutionProvider"]
BASELINE_RUNTIME = "keras-predict"
BASELINE_DEFAULT = Path("runs/mlp/model.keras")
LITERT_GPU_SKIP = ("skipped: the LiteRT GPU delegate is not available in desktop Python "
                   "(ai-edge-litert ships the CPU/XNNPACK path only)")


@dataclass
class BenchConfig:
    manifest: Path = field(default_factory=models_dir)
    formats: list[Format] | None = None  # None: all
    precisions: list[Precision] | None = None
    runtimes: list[Runtime] | None = None
    providers: list[str] | None = None  # full ONNX Runtime provider names; None: CPU + GPU ones + any available
    threads: list[int] = field(default_factory=lambda: sorted({1, os.cpu_count() or 1}))
    batches: list[int] = field(default_factory=lambda: list(DEFAULT_BATCHES))
    warmup: int = 10
    min_runs: int = 50
    min_time: float = 1.0  # seconds of timed runs per row, at least
    max_time: float = 10.0  # stop a row's timed runs here even below min_runs
    baseline: bool = True
    baseline_model: Path | None = None
    data: Path | None = None  # MNIST for accuracy; None: $EDGE_DIGITS_DATA, Keras' cache, else the sample
    eval_n: int | None = None  # accuracy on the first n test digits only (quick runs)
    timeout: float = 300.0  # per row process
    matmul_time: float = 1.0  # seconds per thread count for the peak microbenchmark
    pipeline: str | None = None  # a video file, or "synthetic": also time the camera pipeline's stages
    pipeline_only: bool = False  # skip the model x runtime matrix
    pipeline_frames: int | None = None  # stop after this many frames
    note: str = ""


def _split(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _parse_enum(text, enum, what):
    out = []
    for part in _split(text):
        try:
            out.append(enum(part.lower()))
        except ValueError:
            raise EdgeDigitsError(f"unknown {what} '{part}' (choose from {', '.join(e.value for e in enum)})") from None
    if not out:
        raise EdgeDigitsError(f"--{what}s is empty")
    return out


def _parse_ints(text: str, what: str) -> list[int]:
    out = []
    for part in _split(text):
        try:
            v = int(part)
        except ValueError:
            raise EdgeDigitsError(f"--{what}: '{part}' is not a whole number") from None
        if v <= 0:
            raise EdgeDigitsError(f"--{what} must be > 0, got {v}")
        out.append(v)
    if not out:
        raise EdgeDigitsError(f"--{what} is empty")
    return sorted(set(out))


def config_from_options(manifest: Path | None = None, formats: str | None = None, precisions: str | None = None,
                        runtimes: str | None = None, providers: str | None = None, threads: str | None = None,
                        batch: str | None = None, quick: bool = False, **kw) -> BenchConfig:
    """The CLI's comma-separated strings -> a checked BenchConfig (EdgeDigitsError on bad values)."""
    cfg = BenchConfig()
    if quick:  # structure checks and smoke runs, not numbers to publish; explicit options still win
        cfg.warmup, cfg.min_runs, cfg.min_time, cfg.max_time = 2, 5, 0.02, 1.0
        cfg.eval_n, cfg.matmul_time, cfg.pipeline_frames = 500, 0.1, 10
    for k, v in kw.items():
        if k not in BenchConfig.__dataclass_fields__:
            raise TypeError(f"config_from_options: unknown option {k}")
        if v is not None:
            setattr(cfg, k, v)
    if manifest is not None:
        cfg.manifest = Path(manifest)
    if formats is not None:
        cfg.formats = _parse_enum(formats, Format, "format")
    if precisions is not None:
        cfg.precisions = _parse_enum(precisions, Precision, "precision")
    if runtimes is not None:
        cfg.runtimes = _parse_enum(runtimes, Runtime, "runtime")
    if providers is not None:
        cfg.providers = parse_providers(providers)  # unknown names fail; absent ones get skipped rows
    if threads is not None:
        all_cores = str(os.cpu_count() or 1)
        cfg.threads = _parse_ints(",".join(all_cores if t.lower() in ("all", "max") else t for t in _split(threads)),
                                  "threads")
        for t in cfg.threads:
            check_threads(t)
    if batch is not None:
        cfg.batches = _parse_ints(batch, "batch-size")
        if max(cfg.batches) > 65536:
            raise EdgeDigitsError(f"--batch-size must be at most 65536, got {max(cfg.batches)}")
    if cfg.warmup < 0 or cfg.min_runs < 1:
        raise EdgeDigitsError(f"--warmup must be >= 0 and --min-runs > 0 (got {cfg.warmup}, {cfg.min_runs})")
    check_number("--min-time", cfg.min_time, 0, 3600)
    check_number("--max-time", cfg.max_time, 0, 3600, lo_open=True)
    if cfg.warmup > 100_000 or cfg.min_runs > 10_000_000:
        raise EdgeDigitsError(f"--warmup at most 100000 and --min-runs at most 10000000 (got {cfg.warmup}, {cfg.min_runs})")
    if cfg.min_time < 0 or cfg.max_time <= 0:
        raise EdgeDigitsError("--min-time must be >= 0 and --max-time > 0")
    if cfg.eval_n is not None and cfg.eval_n <= 0:
        raise EdgeDigitsError(f"--eval-n must be > 0, got {cfg.eval_n}")
    if cfg.pipeline_only and not cfg.pipeline:
        raise EdgeDigitsError("--pipeline-only needs --pipeline VIDEO")
    if cfg.pipeline and cfg.pipeline != "synthetic" and not Path(cfg.pipeline).is_file():
        raise EdgeDigitsError(f"--pipeline {cfg.pipeline}: no such video file (or use --pipeline synthetic)")
    if cfg.baseline_model is not None and not Path(cfg.baseline_model).is_file():
        raise EdgeDigitsError(f"{cfg.baseline_model}: no such baseline model file")
    return cfg


# ---------------------------------------------------------------- plan


def tensorflow_installed() -> bool:
    return importlib.util.find_spec("tensorflow") is not None  # finds it without importing it


def gpu_present() -> bool:
    """An NVIDIA device node: a cheap check that keeps TensorFlow out of this process."""
    return Path("/dev/nvidia0").exists() or Path("/proc/driver/nvidia/version").exists()


def _short(provider: str) -> str:
    short = provider.removesuffix("ExecutionProvider")
    return {"Tensorrt": "TensorRT"}.get(short, short)  # as NVIDIA spells it


def _missing_provider(p: str) -> str:
    if p == "CUDAExecutionProvider":
        return "skipped: no CUDA provider (install edge-digits[gpu])"
    if p == "TensorrtExecutionProvider":
        return "skipped: no TensorRT provider (install edge-digits[gpu] and TensorRT)"
    return f"skipped: no {_short(p)} provider in this onnxruntime build"


def ort_providers(requested: list[str] | None, available: list[str]) -> list[str]:
    """The ONNX Runtime providers to bench, best first: the requested ones, else CPU, the GPU ones (rows
    that say why they are skipped when absent) and any other accelerator that is installed."""
    if requested:
        return list(dict.fromkeys(requested))
    want = set(GPU_PROVIDERS) | {CPU} | {p for p in ORT_PREFERRED if p in available}
    return [p for p in ORT_PREFERRED if p in want]


def _ort_chain(p: str, available: list[str]) -> list[str]:
    # TensorRT hands unsupported nodes to CUDA, and any provider to CPU, as ONNX Runtime recommends.
    chain = [p] + (["CUDAExecutionProvider"] if p == GPU_PROVIDERS[0] and "CUDAExecutionProvider" in available else [])
    return chain + ([CPU] if p != CPU else [])


MODEL_SUFFIXES = {".tflite": "tflite", ".onnx": "onnx", ".keras": "keras"}


def single_model(path: Path) -> bool:
    """`edge-digits bench MODEL.tflite`: one model file rather than a manifest or an export folder."""
    return Path(path).suffix.lower() in MODEL_SUFFIXES


def read_plan_manifest(cfg: BenchConfig) -> tuple[Path, dict]:
    """The folder and the manifest to bench: the manifest itself, or for one model file its entry in the
    manifest beside it (else an entry made from the file: format from its suffix, precision from its name)."""
    p = Path(cfg.manifest)
    if not single_model(p):
        return (p.parent if p.is_file() else p), artifacts.read_manifest(p)
    if not p.is_file():
        raise EdgeDigitsError(f"{p}: no such model file")
    entry = artifacts.find_entry(p)
    if entry is None:
        name = p.name.lower()
        precision = next((q for q in ("int8", "fp16") if q in name), "fp32")
        entry = {"file": p.name, "format": MODEL_SUFFIXES[p.suffix.lower()], "precision": precision,
                 "size_bytes": p.stat().st_size, "note": "no manifest: precision read from the file name"}
    return p.parent, {"schema": 1, "artifacts": [entry]}


def shipped_models(cfg: BenchConfig) -> bool:
    """True when the run benches the shipped models, the only ones the project's goals are about."""
    p = Path(cfg.manifest).resolve()
    home = models_dir().resolve()
    return p in (home, home / artifacts.MANIFEST)


def pipeline_model(cfg: BenchConfig) -> Path:
    """The classifier of the pipeline benchmark: with the shipped models, the one `camera` reads with by
    default (export/camera); with another manifest, its default int8 TFLite, else its first int8 TFLite,
    else its first TFLite file."""
    from edge_digits.config import camera_model

    if Path(cfg.manifest).resolve() in (models_dir().resolve(), (models_dir() / "manifest.json").resolve()):
        return camera_model()
    folder, man = read_plan_manifest(cfg)
    tflite = [a for a in man["artifacts"] if a["format"] == "tflite"]
    for a in sorted(tflite, key=lambda a: (a["file"] != DEFAULT_MODEL_FILE, a["precision"] != "int8")):
        if (folder / a["file"]).is_file():
            return folder / a["file"]
    raise EdgeDigitsError(f"{cfg.manifest}: no .tflite model for the pipeline benchmark")


def plan(cfg: BenchConfig, available: list[str], tf_ok: bool | None = None, gpu: bool | None = None) -> list[dict]:
    """Every row of the run: jobs to measure (`kind` set) and rows already decided (`status` set)."""
    if cfg.pipeline_only:
        return []
    tf_ok = tensorflow_installed() if tf_ok is None else tf_ok
    gpu = gpu_present() if gpu is None else gpu
    folder, man = read_plan_manifest(cfg)
    provs = ort_providers(cfg.providers, available)
    want_cpu = cfg.providers is None or CPU in cfg.providers
    want_gpu = cfg.providers is None or any(p in GPU_PROVIDERS for p in cfg.providers)
    rows: list[dict] = []
    grid = [(t, b) for t in cfg.threads for b in cfg.batches]
    for a in man["artifacts"]:
        base = {"file": a["file"], "format": a["format"], "precision": a["precision"],
                "size_bytes": a.get("size_bytes"), "flops_per_digit": (a.get("source") or {}).get("flops_per_digit"),
                "sha256": a.get("sha256"),
                "threads": None, "batch": None, **({"note": a["note"]} if a.get("note") else {})}
        try:
            fmt = Format(a["format"])
        except ValueError:
            rows.append({**base, "runtime": "-", "provider": "-", "status": f"failed: unknown format '{a['format']}'"})
            continue
        if cfg.formats and fmt not in cfg.formats or cfg.precisions and a["precision"] not in cfg.precisions:
            continue
        rts = [r for r in FORMAT_RUNTIMES[fmt] if not cfg.runtimes or r in cfg.runtimes]
        path = folder / a["file"]
        if rts and not path.is_file():
            rows.append({**base, "runtime": "-", "provider": "-", "status": f"failed: {path}: file missing"})
            continue
        if rts:
            base["size_bytes"] = path.stat().st_size
            if a.get("sha256") and artifacts.sha256_file(path) != a["sha256"]:
                base["note"] = "sha256 differs from the manifest"
        for rt in rts:
            job = {**base, "kind": "row", "path": str(path), "runtime": rt.value}
            if unsupported(rt, a["precision"]):
                rows.append({**job, "provider": "CPU", "status": f"skipped: {unsupported(rt, a['precision'])}"})
            elif rt == Runtime.onnxruntime and not available:
                rows.append({**job, "provider": "CPU", "status": "skipped: ONNX Runtime not installed "
                             "(pip install onnxruntime)"})
            elif rt == Runtime.onnxruntime:
                for p in provs:
                    r = {**job, "provider": _short(p)}
                    if p not in available:
                        rows.append({**r, "status": _missing_provider(p)})
                    else:
                        rows += [{**r, "ort_providers": _ort_chain(p, available), "threads": t, "batch": b}
                                 for t, b in grid]
            elif rt == Runtime.keras and not tf_ok:
                rows.append({**job, "provider": "CPU", "status": "skipped: TensorFlow not installed"})
            else:
                if want_cpu:
                    rows += [{**job, "provider": "CPU", "threads": t, "batch": b} for t, b in grid]
                if want_gpu and rt == Runtime.litert:
                    rows.append({**job, "provider": "GPU", "status": LITERT_GPU_SKIP})
                elif want_gpu and rt == Runtime.keras:
                    if gpu:
                        rows += [{**job, "provider": "GPU", "threads": t, "batch": b} for t, b in grid]
                    else:
                        rows.append({**job, "provider": "GPU", "status": "skipped: no GPU for TensorFlow "
                                     "(needs an NVIDIA GPU and tensorflow[and-cuda])"})
    for r in rows:
        if "status" in r:
            r.pop("kind", None)
    if cfg.baseline and (not cfg.runtimes or Runtime.keras in cfg.runtimes) and want_cpu:
        rows.append(baseline_job(cfg, tf_ok))
    if not rows:
        raise EdgeDigitsError(f"{cfg.manifest}: nothing to bench with these --formats/--precisions/--runtimes")
    return rows


def baseline_job(cfg: BenchConfig, tf_ok: bool) -> dict:
    row = {"file": None, "format": "keras", "precision": "fp32", "runtime": BASELINE_RUNTIME, "provider": "CPU",
           "threads": os.cpu_count() or 1, "batch": 1, "size_bytes": None, "flops_per_digit": None}
    if not tf_ok:
        return {**row, "status": "skipped: TensorFlow not installed"}
    path = cfg.baseline_model or next((p for p in (BASELINE_DEFAULT, REPO_DIR / BASELINE_DEFAULT) if p.is_file()), None)
    if path:
        row.update(file=str(path), size_bytes=Path(path).stat().st_size, path=str(path))
    return {**row, "kind": "baseline"}
