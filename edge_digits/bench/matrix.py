"""`edge-digits bench`: every artifact of a manifest x every runtime that can run it x threads x batch sizes,
timed the same way, plus the Keras `model.predict` baseline and this machine's matrix-multiply peak.

    cfg = config_from_options(manifest="export", batch="1,64")
    doc = run(cfg)          # {"environment": {...}, "rows": [...], "summary": {...}}

bench_plan.py decides the rows, bench_worker.py measures one row in a fresh process, this module runs them
and summarises, bench_report.py shows and saves. This module never imports TensorFlow.
"""
from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from edge_digits.bench.plan import (BASELINE_RUNTIME, DEFAULT_BATCHES, LITERT_GPU_SKIP, BenchConfig,  # noqa: F401 - the API
                         config_from_options, gpu_present, pipeline_model, plan, shipped_models,
                         tensorflow_installed)
from edge_digits.config import PACKAGE_DIR, EdgeDigitsError

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(available: list[str]) -> dict:
    from edge_digits.core.provenance import git_commit, library_versions

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    return {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": cpu_model(), "cores": os.cpu_count(), "cores_usable": affinity,
        "os": platform.platform(), "machine": platform.machine(),
        "versions": library_versions(),
        "onnxruntime_providers": available,
        "tensorflow_installed": tensorflow_installed(), "gpu_present": gpu_present(),
        "git_commit": git_commit(),
        "command": " ".join(["edge-digits", *sys.argv[1:]]) if sys.argv and "edge-digits" in sys.argv[0] else None,
        "edge_digits_data": os.environ.get("EDGE_DIGITS_DATA"),
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def available_providers() -> list[str]:
    """ONNX Runtime's providers; none when it is not installed (a LiteRT-only edge install)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return []

    return list(ort.get_available_providers())


# ---------------------------------------------------------------- run


def run_job(job: dict, threads: int | None, timeout: float) -> dict:
    """Run one job in a fresh interpreter; any crash, timeout or garbage becomes a `failed:` status."""
    env = dict(os.environ)
    t = str(threads or os.cpu_count() or 1)
    # Fix every thread pool the process could start before anything loads (BLAS, OpenMP, TensorFlow).
    env.update(OMP_NUM_THREADS=t, OPENBLAS_NUM_THREADS=t, MKL_NUM_THREADS=t, TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join([str(PACKAGE_DIR.parent), env.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    if job.get("runtime") in ("keras", BASELINE_RUNTIME) and job.get("provider") == "CPU":
        env["CUDA_VISIBLE_DEVICES"] = "-1"
    try:
        p = subprocess.run([sys.executable, "-m", "edge_digits.bench.worker"], input=json.dumps(job),
                           capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"status": f"failed: timed out after {timeout:.0f} s"}
    if p.returncode == 0:
        for line in reversed(p.stdout.splitlines()):  # the result is the last JSON line; a library may print more
            try:
                res = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(res, dict) and "status" in res:
                return res
    if p.returncode < 0:
        try:
            name = signal.Signals(-p.returncode).name
        except ValueError:
            name = f"signal {-p.returncode}"
        return {"status": f"failed: runtime crashed ({name})"}
    err = [ln for ln in p.stderr.splitlines() if ln.strip()]
    return {"status": f"failed: worker exit {p.returncode}: {(err[-1] if err else 'no output')[:200]}"}


def matmul_peaks(threads: list[int], seconds: float = 1.0, timeout: float = 120) -> dict[int, float | None]:
    out = {}
    for t in sorted(set(threads) | {1, os.cpu_count() or 1}):
        r = run_job({"kind": "matmul", "n": 1024, "min_runs": 10 if seconds >= 0.5 else 3, "min_time": seconds,
                     "max_time": 5 * seconds}, t, timeout)
        out[t] = r.get("gflops") if r.get("status") == "ok" else None
    return out


def _eval_file(cfg: BenchConfig, tmp: Path) -> tuple[Path, dict]:
    import numpy as np

    from edge_digits.data.mnist import load_eval_set

    d = load_eval_set(cfg.data)
    path = tmp / "eval.npz"
    np.savez(path, x=d.x_test, y=d.y_test)  # uncompressed: the workers map it instead of each decoding MNIST
    return path, {"kind": d.eval_set, "n": int(len(d.y_test)), "source": "MNIST test set" if d.full else d.source}


def _label(r: dict) -> str:
    return (f"{r.get('format')}/{r.get('precision')} {r.get('runtime')} {r.get('provider')} "
            f"t{r.get('threads')} b{r.get('batch')}")


def run(cfg: BenchConfig, progress=None, available: list[str] | None = None) -> dict:
    """Plan, measure the matmul peaks, measure every row, and summarise. progress(done, total, label)."""
    available = available_providers() if available is None else available
    rows = plan(cfg, available)
    pipe_model = pipeline_model(cfg) if cfg.pipeline else None  # checked before anything is measured
    env = environment(available)
    method = {"warmup_runs": cfg.warmup, "min_runs": cfg.min_runs, "min_time_s": cfg.min_time,
              "max_time_s": cfg.max_time, "clock": "time.perf_counter_ns, each call timed alone",
              "isolation": "one fresh process per row; peak_rss_mb is its peak resident memory (VmHWM on Linux)",
              "per_digit_us": "p50 latency of one call / batch", "digits_per_s": "batch x runs / total timed time",
              "pct_peak": ("flops_per_digit / per_digit_us (p50) against the best numpy float32 1024x1024 matmul at "
                           "the row's thread count; float rows only: no int8 peak is measured, so int8 rows "
                           "have none")}
    jobs = [r for r in rows if "kind" in r]
    total = len(jobs) + 2 + bool(cfg.pipeline)
    with tempfile.TemporaryDirectory(prefix="edge-digits-bench-") as tmp:
        eval_path, eval_info = _eval_file(cfg, Path(tmp))
        env["eval_set"] = eval_info
        if progress:
            progress(0, total, "matrix-multiply peak")
        first = matmul_peaks(cfg.threads, cfg.matmul_time) if jobs else {}
        common = {"eval_path": str(eval_path), "eval_n": cfg.eval_n, "warmup": cfg.warmup, "min_runs": cfg.min_runs,
                  "min_time": cfg.min_time, "max_time": cfg.max_time}
        pipe = None
        if cfg.pipeline:
            if progress:
                progress(0, total, f"camera pipeline on {cfg.pipeline}")
            t = 1  # as `camera` runs: one thread for the runtime, one OpenCV thread
            pipe = run_job({"kind": "pipeline", "video": cfg.pipeline, "model": str(pipe_model), "threads": t,
                            "max_frames": cfg.pipeline_frames, "tmp": tmp}, t, cfg.timeout)
            if pipe.get("status") != "ok":
                raise EdgeDigitsError(f"--pipeline {cfg.pipeline}: {pipe.get('status', 'failed')}")
        load_failed: dict[tuple, str] = {}
        for i, job in enumerate(jobs, 1):
            if progress:
                progress(i, total, _label(job))
            key = (job.get("file"), job["runtime"], job.get("provider"))
            if key in load_failed:  # the same file cannot load at another thread count or batch either
                job["status"] = load_failed[key]
            elif job["kind"] == "baseline":  # ~50 ms a call: fewer runs, same rules
                common_b = {**common, "min_runs": max(1, min(cfg.min_runs, 20)), "warmup": min(cfg.warmup, 3)}
                job.update(run_job({**job, **common_b}, job["threads"], cfg.timeout))
            else:
                planned = job.get("note")  # e.g. the hash check's: the worker's own note must not replace it
                job.update(run_job({**job, **common}, job["threads"], cfg.timeout))
                if planned:
                    job["note"] = "; ".join(dict.fromkeys(n for n in (planned, job.get("note")) if n))
                if job["status"].startswith("failed") and job.get("failed_at") == "load":
                    load_failed[key] = job["status"]
        # Measured again at the end and the best kept: the peak is the machine's, a busy neighbour only lowers it.
        if progress and jobs:
            progress(len(jobs) + 1, total, "matrix-multiply peak, again")
        last = matmul_peaks(cfg.threads, cfg.matmul_time) if jobs else {}
        peaks = {t: max((g for g in (first.get(t), last.get(t)) if g), default=None) for t in first}
        env["matmul_peak_gflops"] = {str(t): g for t, g in peaks.items()}
        env["matmul_runs_gflops"] = {str(t): [first.get(t), last.get(t)] for t in first}
        if progress:
            progress(total, total, "done")
    env["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    out = [finish_row(r, peaks, eval_info) for r in rows]
    env["shipped_models"] = shipped_models(cfg)
    doc = {"schema": 1, "tool": "edge-digits bench", "environment": env, "method": method,
           "note": cfg.note, "rows": out, "summary": summarize(out, shipped=env["shipped_models"])}
    if pipe:
        doc["pipeline"] = pipe
    return doc


ROW_FIELDS = ["format", "precision", "file", "runtime", "provider", "threads", "batch", "status", "note",
              "size_bytes", "flops_per_digit", "load_ms", "first_ms", "runs", "p50_us", "p90_us", "p99_us",
              "p999_us", "mean_us", "std_us", "min_us", "max_us", "per_digit_us", "mean_per_digit_us",
              "digits_per_s", "pct_peak", "peak_rss_mb", "base_rss_mb", "accuracy", "eval_set", "eval_n",
              "tensorflow_imported"]


def finish_row(r: dict, peaks: dict, eval_info: dict) -> dict:
    r = dict(r)
    for k in ("kind", "path", "ort_providers", "eval_path", "warmup", "min_runs", "min_time", "max_time"):
        r.pop(k, None)
    if r.get("status") == "ok":
        peak = peaks.get(r["threads"]) if r.get("provider") in ("CPU", None) else None
        if r.get("precision") == "int8":
            peak = None  # no int8 peak is measured: a float32 matmul is no yardstick for integer kernels
        if r.get("flops_per_digit") and peak and r.get("per_digit_us"):
            # From the p50 time, like the peak from the best matmul: a neighbour's preemption spike moves the
            # mean (digits_per_s) but not what the code achieves when it runs.
            r["pct_peak"] = 100 * r["flops_per_digit"] / (r["per_digit_us"] * 1e-6) / (peak * 1e9)
        if r.get("accuracy") is not None:
            n = r.get("eval_n") or eval_info["n"]
            r["eval_set"] = eval_info["kind"] if n == eval_info["n"] else f"{eval_info['kind']} (first {n})"
    out = {k: r.get(k) for k in ROW_FIELDS}
    out.update({k: v for k, v in r.items() if k not in out})
    return out


def _find(rows, **kw):
    return [r for r in rows if r.get("status") == "ok" and all(r.get(k) == v for k, v in kw.items())]


def summarize(rows: list[dict], shipped: bool = True) -> dict:
    """The speed-up over the baseline and the project's goals (for the shipped models only), each with the
    row it was read from."""
    all_t = os.cpu_count() or 1
    base = next(iter(_find(rows, runtime=BASELINE_RUNTIME)), None)
    int8_1 = next(iter(_find(rows, format="tflite", precision="int8", runtime="litert", threads=1, batch=1)), None)
    int8_64 = next(iter(_find(rows, format="tflite", precision="int8", runtime="litert", threads=all_t, batch=64)), None)
    fp32 = [r for r in _find(rows, precision="fp32", threads=1, batch=64, provider="CPU")
            if r["format"] in ("tflite", "onnx") and r.get("pct_peak") is not None]
    best_fp32 = max(fp32, key=lambda r: r["pct_peak"], default=None)
    speedup = base["per_digit_us"] / int8_1["per_digit_us"] if base and int8_1 else None
    best = min(_find(rows), key=lambda r: r["per_digit_us"], default=None)

    def goal(text, value, target, better, row):
        met = None if value is None else (value <= target if better == "<=" else value >= target)
        return {"goal": text, "value": value, "target": target, "better": better, "met": met,
                "row": _label(row) if row else None}

    goals = [
        goal("int8 LiteRT, 1 thread, batch 1: p50 latency (us)", int8_1 and int8_1["p50_us"], 25, "<=", int8_1),
        goal(f"int8 LiteRT, {all_t} threads, batch 64: p50 per digit (us)", int8_64 and int8_64["per_digit_us"],
             8, "<=", int8_64),
        goal("fp32 at batch 64, 1 thread: % of the 1-thread matmul peak", best_fp32 and best_fp32["pct_peak"],
             50, ">=", best_fp32),
        goal("speed-up per digit over Keras predict (int8 LiteRT 1 thread batch 1)", speedup, 2000, ">=", int8_1),
    ]
    return {
        "baseline_per_digit_us": base["per_digit_us"] if base else None,
        # without a trained mlp to load the worker times an untrained one of the same shape: timing only
        "baseline_trained": bool(base and base.get("file")),
        "speedup_vs_keras_predict": speedup,
        "speedup_row": _label(int8_1) if int8_1 else None,
        "best_per_digit_us": best["per_digit_us"] if best else None,
        "best_row": _label(best) if best else None,
        "speedup_best_vs_keras_predict": base["per_digit_us"] / best["per_digit_us"] if base and best else None,
        "goals": goals if shipped else [],  # the project's goals are about its own models
        "counts": {s: sum(1 for r in rows if str(r.get("status", "")).startswith(s)) for s in ("ok", "skipped", "failed")},
    }


def load_result(path: Path, note: str | None = None) -> dict:
    """A saved --json-file document, to re-render its table, CSV, plot or Markdown without re-running;
    `note` replaces its remark (commentary only: the measurements stay as saved)."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EdgeDigitsError(f"{path}: cannot read benchmark results ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list) or "environment" not in doc:
        raise EdgeDigitsError(f"{path}: not an edge-digits bench document (needs environment and rows)")
    if note is not None:
        doc["note"] = note
    return doc
