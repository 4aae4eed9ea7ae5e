"""One benchmark measurement in its own process: `python -m edge_digits.bench.worker` reads a JSON job on stdin
and prints one JSON result line on stdout.

Why a process per row: ru_maxrss is a per-process high-water mark, so only a fresh process gives each row its
own peak memory; thread pools and BLAS threads are fixed by environment before any library loads; and a native
crash in one runtime (a segfault in a converter-made file) ends this process, not the whole run.

Keep imports here light: this module must not import TensorFlow except for the keras rows and the baseline.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path

import numpy as np


def rss_now_mb() -> float | None:
    # /proc gives the current RSS on Linux; elsewhere we only have the peak.
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


def peak_rss_mb() -> float:
    """This process image's peak resident memory. On Linux, VmHWM: ru_maxrss would carry over the parent's
    RSS at fork time across exec (a measured 400 MB parent showed as 400 MB here), VmHWM starts anew."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def time_loop(fn, inputs: list, warmup: int, min_runs: int, min_time: float, max_time: float) -> np.ndarray:
    """Warm up, then call fn on the prepared inputs (cycled) until both min_runs and min_time are reached
    (or max_time passes). Each call is timed alone with perf_counter_ns; returns the durations in ns."""
    k = len(inputs)
    t_end = time.perf_counter() + max(min_time / 5, 0.02)
    i = 0
    while i < warmup or (time.perf_counter() < t_end and i < 10 * warmup):
        fn(inputs[i % k])
        i += 1
    times = []
    start = time.perf_counter_ns()
    min_ns, max_ns = int(min_time * 1e9), int(max_time * 1e9)
    i = 0
    while True:
        x = inputs[i % k]
        t0 = time.perf_counter_ns()
        fn(x)
        t1 = time.perf_counter_ns()
        times.append(t1 - t0)
        i += 1
        elapsed = t1 - start
        if (i >= min_runs and elapsed >= min_ns) or elapsed >= max_ns:
            break
    return np.asarray(times, dtype=np.int64)


def latency_stats(times_ns: np.ndarray, batch: int) -> dict:
    us = times_ns / 1e3
    p50, p90, p99, p999 = np.percentile(us, [50, 90, 99, 99.9])
    return {
        "runs": int(len(us)),
        "p50_us": float(p50), "p90_us": float(p90), "p99_us": float(p99), "p999_us": float(p999),
        "mean_us": float(us.mean()), "std_us": float(us.std()), "min_us": float(us.min()), "max_us": float(us.max()),
        "per_digit_us": float(p50 / batch),
        "mean_per_digit_us": float(us.mean() / batch),
        "digits_per_s": float(batch * len(us) / (us.sum() / 1e6)),
    }


def _inputs(x: np.ndarray, batch: int, k: int = 4) -> list[np.ndarray]:
    # Several distinct batches, built before timing, so each timed call sees fresh digits.
    out = []
    for j in range(k):
        idx = (np.arange(batch) + j * batch) % len(x)
        out.append(np.ascontiguousarray(x[idx]))
    return out


def _eval_data(job: dict):
    z = np.load(job["eval_path"], mmap_mode="r")
    return z["x"], z["y"]


def _limit_tf_threads(threads: int) -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1 if threads == 1 else 2)


def run_row(job: dict) -> dict:
    """Load one artifact with one runtime, time predict() at one batch size, then check accuracy."""
    from edge_digits import runtime as runtimes
    from edge_digits.config import EdgeDigitsError, Runtime
    from edge_digits.runtime.base import accuracy

    res = {}
    x, y = _eval_data(job)
    batch, threads, runtime = job["batch"], job["threads"], job["runtime"]
    inputs = _inputs(x, batch)
    if runtime == "keras":
        if job.get("provider") == "GPU":
            import tensorflow as tf

            if not tf.config.list_physical_devices("GPU"):
                return {"status": "skipped: no GPU visible to TensorFlow"}
        _limit_tf_threads(threads)
    cls = runtimes.RUNTIMES[Runtime(runtime)]
    args = (job["path"], threads) + ((job["ort_providers"],) if cls is runtimes.OnnxRuntimeRunner else ())
    res["base_rss_mb"] = rss_now_mb()
    # The runner itself, not runtimes.load(): the parent checked the sha256 already, and load() may first
    # probe an unvouched file in another process, which is not the runtime's initialisation time.
    t0 = time.perf_counter_ns()
    try:
        runner = cls(*args)
    except EdgeDigitsError as e:
        return {"status": f"failed: {e}", "failed_at": "load"}
    res["load_ms"] = (time.perf_counter_ns() - t0) / 1e6
    if job.get("ort_providers"):
        wanted = job["ort_providers"][0].removesuffix("ExecutionProvider")
        if runner.provider != wanted:  # ONNX Runtime silently falls back to CPU when a provider cannot start
            return {"status": f"failed: {wanted} provider did not start (session runs on {runner.provider})"}
    t0 = time.perf_counter_ns()
    runner.predict(inputs[0])
    res["first_ms"] = (time.perf_counter_ns() - t0) / 1e6
    times = time_loop(runner.predict, inputs, job["warmup"], job["min_runs"], job["min_time"], job["max_time"])
    res.update(latency_stats(times, batch))
    res["peak_rss_mb"] = peak_rss_mb()  # before the accuracy pass, which resizes to another batch
    n = job.get("eval_n") or len(x)
    res["accuracy"] = accuracy(runner.predict, x[:n], y[:n], batch=256)
    res["eval_n"] = int(n)
    res["status"] = "ok"
    res["note"] = runner.note or ""
    return res


def run_baseline(job: dict) -> dict:
    """The tutorial way to serve the classic MLP: Keras model.predict on one image at a time."""
    import keras

    from edge_digits.training import models
    from edge_digits.config import Arch

    x, y = _eval_data(job)
    res = {"base_rss_mb": None}
    t0 = time.perf_counter_ns()
    if job.get("path"):
        model = keras.models.load_model(job["path"], compile=False)
    else:
        model = models.build(Arch.mlp)
    res["load_ms"] = (time.perf_counter_ns() - t0) / 1e6
    res["parameters"] = int(model.count_params())
    res["flops_per_digit"] = models.flops_per_digit(model)
    # Scaling happens outside the timed region, as for every other row.
    inputs = [(x[i:i + 1].astype(np.float32) / 255.0)[..., None] for i in range(8)]
    t0 = time.perf_counter_ns()
    model.predict(inputs[0], verbose=0)
    res["first_ms"] = (time.perf_counter_ns() - t0) / 1e6
    times = time_loop(lambda a: model.predict(a, verbose=0), inputs, job["warmup"], job["min_runs"],
                      job["min_time"], job["max_time"])
    res.update(latency_stats(times, 1))
    res["peak_rss_mb"] = peak_rss_mb()
    if job.get("path"):
        n = job.get("eval_n") or len(x)
        probs = model.predict(x[:n].astype(np.float32)[..., None] / 255.0, batch_size=256, verbose=0)
        res["accuracy"] = float((probs.argmax(1) == y[:n]).mean())
        res["eval_n"] = int(n)
    else:
        res["accuracy"] = None
        res["note"] = "n/a: untrained, timing only"
    res["status"] = "ok"
    return res


def run_matmul(job: dict) -> dict:
    """This machine's float32 matrix-multiply peak with numpy's BLAS at a fixed thread count (set through
    OPENBLAS_NUM_THREADS/OMP_NUM_THREADS before numpy loaded): the best of repeated n x n products."""
    n = job.get("n", 1024)
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    times = time_loop(lambda _: np.matmul(a, b, out=c), [None], 2, job.get("min_runs", 10), job.get("min_time", 0.5),
                      job.get("max_time", 5.0))
    best = times.min() / 1e9
    return {"status": "ok", "n": n, "runs": int(len(times)), "gflops": 2 * n**3 / best / 1e9,
            "median_gflops": 2 * n**3 / float(np.median(times) / 1e9) / 1e9}


def synthetic_video(path: str, frames: int = 120, seed: int = 0) -> str:
    """A hand-held-camera video over synthetic pages of bundled MNIST digits (synth.py, the camera
    pipeline's own test bed), written as MJPG so decoding is measured on a real compressed file."""
    import cv2

    from edge_digits.data import synth
    from edge_digits.data.mnist import load_sample

    d = load_sample()
    pages = synth.make_pages(d.x_test, d.y_test, n=-(-frames // 30), seed=seed)
    clips = [f for i, pg in enumerate(pages) for f, _ in synth.shake(pg, min(30, frames), seed + i)][:frames]
    h, w = clips[0].shape[:2]
    wr = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (w, h))
    for f in clips:
        wr.write(f)
    wr.release()
    return path


def run_pipeline(job: dict) -> dict:
    """The camera pipeline over a video, headless: decode, detect, normalize, classify, draw, each timed
    per frame with the same functions `edge-digits camera` calls."""
    import cv2

    from edge_digits import runtime as runtimes
    from edge_digits.app import overlay, sources
    from edge_digits.vision import pipeline as vision
    from edge_digits.vision.detector import AUTO, load_detector

    cv2.setNumThreads(1)  # as the camera CLI sets it (this worker is a process of its own)
    video = job["video"]
    if video == "synthetic":
        video = synthetic_video(str(Path(job["tmp"]) / "synthetic.avi"), min(120, job.get("max_frames") or 120))
    runner = runtimes.load(job["model"], threads=job["threads"])
    finder = load_detector(threads=job["threads"], tiles=AUTO)  # the learned detector, as `edge-digits camera` runs by default
    src = sources.Source(video)
    stages = {k: [] for k in ("decode", "detect", "normalize", "classify", "draw", "total")}
    digits, blobs, frames, fps, shape = 0, 0, 0, 0.0, None
    counts = sources.ReadCounts()
    try:
        for frame, _, decode_ms in src.frames(counts, max_frames=job.get("max_frames")):
            t2 = time.perf_counter_ns()
            res = vision.read_frame(frame, runner, detector=finder)
            t3 = time.perf_counter_ns()
            ms = {"decode": decode_ms, **res.ms}
            overlay.draw(frame, res, fps, ms)
            ms.update(draw=(time.perf_counter_ns() - t3) / 1e6)
            ms["total"] = decode_ms + (time.perf_counter_ns() - t2) / 1e6
            fps = 1e3 / ms["total"]
            frames += 1
            digits += len(res.digits)
            blobs += len(res.digits) + res.rejected
            shape = list(frame.shape[:2])
            for k in stages:
                stages[k].append(ms[k])
    finally:
        src.close()
    if frames < 2:
        return {"status": f"failed: {video}: {frames} decodable frames, need at least 2"}
    rows = []
    for k, v in stages.items():
        a = np.asarray(v[1:])  # the first frame pays one-off costs (XNNPACK packing, allocations)
        p50, p90, p99 = np.percentile(a, [50, 90, 99])
        rows.append({"stage": k, "p50_ms": float(p50), "p90_ms": float(p90), "p99_ms": float(p99),
                     "mean_ms": float(a.mean()), "std_ms": float(a.std()), "first_ms": float(v[0])})
    total = np.asarray(stages["total"][1:])
    return {"status": "ok", "video": job["video"], "model": job["model"], "runtime": runner.runtime.value,
            "threads": job["threads"], "frames": frames, "bad_frames": counts.skipped, "digits_per_frame": digits / frames,
            "classified_per_frame": blobs / frames,
            "fps": float(1e3 / total.mean()), "stages": rows, "peak_rss_mb": peak_rss_mb(),
            "frame_hw": shape}


KINDS = {"row": run_row, "baseline": run_baseline, "matmul": run_matmul, "pipeline": run_pipeline}


def main() -> None:
    job = json.loads(sys.stdin.read())
    try:
        res = KINDS[job["kind"]](job)
        res["tensorflow_imported"] = "tensorflow" in sys.modules
    except Exception as e:  # noqa: BLE001 - any failure becomes this row's status; the run goes on
        traceback.print_exc(file=sys.stderr)
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        res = {"status": f"failed: {type(e).__name__}{': ' + msg if msg else ''}"}
    sys.stdout.write("\n" + json.dumps(res) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
