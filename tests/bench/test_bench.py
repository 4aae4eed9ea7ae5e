"""edge-digits bench: the plan (selection and skipping with faked provider lists), bad input, and the
structure and consistency of a real quick run. No timed assertions: this machine is shared and noisy."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_digits.runtime import manifest as artifacts
from edge_digits.bench import matrix as bench
from edge_digits.bench import report as bench_report
from edge_digits.bench import worker as bench_worker
from edge_digits.config import EdgeDigitsError, models_dir, Format, Runtime
from edge_digits.runtime import FORMAT_RUNTIMES, unsupported

CPU, CUDA, TRT = "CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"
REQUIRED = ["format", "precision", "runtime", "provider", "threads", "batch", "status", "size_bytes", "load_ms",
            "p50_us", "p90_us", "p99_us", "mean_us", "per_digit_us", "digits_per_s", "peak_rss_mb", "accuracy"]
CLI = [sys.executable, "-m", "edge_digits.cli"]


@pytest.fixture(scope="module")
def export():
    if not (models_dir() / "manifest.json").is_file():
        pytest.skip(f"no shipped models in {models_dir()} (make models)")
    return models_dir()


def _manifest(export) -> dict:
    return artifacts.read_manifest(export)


def _cfg(export, **kw) -> bench.BenchConfig:
    return bench.config_from_options(manifest=export, **kw)


def _runnable(rows):
    return [r for r in rows if "kind" in r]


# ---------------------------------------------------------------- plan with faked provider lists


def test_plan_covers_every_artifact_and_runtime_from_the_tables(export):
    rows = bench.plan(_cfg(export), [CPU], tf_ok=True, gpu=False)
    threads, batches = bench.BenchConfig().threads, bench.DEFAULT_BATCHES
    for a in _manifest(export)["artifacts"]:
        for rt in FORMAT_RUNTIMES[Format(a["format"])]:
            mine = [r for r in _runnable(rows) if r["file"] == a["file"] and r["runtime"] == rt.value]
            why = unsupported(rt, a["precision"])
            if why:  # a combination the runtime cannot run is one row that says so
                assert not mine and any(r["status"] == f"skipped: {why}" for r in rows
                                        if r["file"] == a["file"] and r["runtime"] == rt.value)
                continue
            assert {(r["threads"], r["batch"]) for r in mine} == {(t, b) for t in threads for b in batches}
    assert sum(r.get("kind") == "baseline" for r in rows) == 1


def test_cpu_only_onnxruntime_skips_gpu_providers_with_install_hint(export):
    rows = bench.plan(_cfg(export, formats="onnx"), [CPU], tf_ok=True, gpu=False)
    ort = [r for r in rows if r["runtime"] == "onnxruntime"]
    cuda = [r for r in ort if r["provider"] == "CUDA"]
    assert cuda and all(r["status"] == "skipped: no CUDA provider (install edge-digits[gpu])" for r in cuda)
    assert all(r["status"].startswith("skipped: no TensorRT provider") for r in ort if r["provider"] == "TensorRT")
    cpu = [r for r in ort if r["provider"] == "CPU"]
    assert cpu and all(r["ort_providers"] == [CPU] for r in cpu)


def test_cuda_and_tensorrt_rows_run_when_the_provider_list_has_them(export):
    rows = bench.plan(_cfg(export, formats="onnx"), [TRT, CUDA, CPU], tf_ok=True, gpu=False)
    ort = _runnable([r for r in rows if r["runtime"] == "onnxruntime"])
    by = {r["provider"]: r["ort_providers"] for r in ort}
    assert by == {"TensorRT": [TRT, CUDA, CPU], "CUDA": [CUDA, CPU], "CPU": [CPU]}
    assert not [r for r in rows if r["runtime"] == "onnxruntime" and "status" in r]


def test_other_installed_accelerators_are_benched_too(export):
    rows = bench.plan(_cfg(export, formats="onnx"), ["OpenVINOExecutionProvider", CPU], tf_ok=True, gpu=False)
    assert any(r["provider"] == "OpenVINO" and "kind" in r for r in rows)


def test_providers_option_narrows_and_a_missing_one_is_a_skipped_row(export):
    rows = bench.plan(_cfg(export, providers="cuda", formats="onnx,tflite"), [CPU], tf_ok=True, gpu=False)
    assert not _runnable(rows)  # nothing on CPU was asked for
    assert {r["provider"] for r in rows if r["runtime"] == "onnxruntime"} == {"CUDA"}
    gpu_litert = [r for r in rows if r["runtime"] == "litert"]
    assert gpu_litert and all("not available in desktop Python" in r["status"] for r in gpu_litert)


def test_litert_gpu_delegate_row_says_it_is_unavailable(export):
    rows = bench.plan(_cfg(export, formats="tflite"), [CPU], tf_ok=True, gpu=True)
    gpu = [r for r in rows if r["runtime"] == "litert" and r["provider"] == "GPU"]
    assert gpu and all(r["status"] == bench.LITERT_GPU_SKIP for r in gpu)


def test_keras_rows_follow_tensorflow_and_gpu_presence(export):
    if not any(a["format"] == "keras" for a in _manifest(export)["artifacts"]):
        pytest.skip("the shipped manifest lists no .keras artifact")
    no_tf = bench.plan(_cfg(export, runtimes="keras"), [CPU], tf_ok=False, gpu=False)
    assert no_tf and all(r["status"] == "skipped: TensorFlow not installed" for r in no_tf)  # baseline included
    cpu_only = bench.plan(_cfg(export, runtimes="keras"), [CPU], tf_ok=True, gpu=False)
    assert [r["status"] for r in cpu_only if r["provider"] == "GPU"][0].startswith("skipped: no GPU for TensorFlow")
    with_gpu = bench.plan(_cfg(export, runtimes="keras"), [CPU], tf_ok=True, gpu=True)
    assert any(r["provider"] == "GPU" and "kind" in r for r in with_gpu)


def test_runtime_filter_drops_the_baseline_unless_keras_is_asked(export):
    rows = bench.plan(_cfg(export, runtimes="litert,onnxruntime"), [CPU], tf_ok=True, gpu=False)
    assert not [r for r in rows if r["runtime"] in ("keras", bench.BASELINE_RUNTIME)]


def test_missing_artifact_is_a_failed_row_and_the_rest_still_plan(export, tmp_path):
    real = next(a for a in _manifest(export)["artifacts"] if a["format"] != "keras")
    shutil.copy(export / real["file"], tmp_path)
    ghost = dict(real, file=f"gone.{real['format']}")
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": [real, ghost]}))
    rows = bench.plan(_cfg(tmp_path), [CPU], tf_ok=False, gpu=False)
    assert [r["status"] for r in rows if r["file"] == ghost["file"]] == [f"failed: {tmp_path / ghost['file']}: file missing"]
    assert any(r["file"] == real["file"] for r in _runnable(rows))


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("kw, msg", [
    ({"batch": "0"}, "--batch-size must be > 0"),
    ({"batch": "-8"}, "--batch-size must be > 0"),
    ({"batch": "eight"}, "not a whole number"),
    ({"threads": "0"}, "--threads must be > 0"),
    ({"runtimes": "tensorrt-llm"}, "unknown runtime 'tensorrt-llm'"),
    ({"formats": "pt"}, "unknown format 'pt'"),
    ({"providers": "quantum"}, "unknown provider 'quantum'"),
])
def test_bad_options_are_clear_errors(kw, msg):
    with pytest.raises(EdgeDigitsError, match=msg):
        bench.config_from_options(**kw)


@pytest.mark.parametrize("content, msg", [
    ('{"artifacts": []}', "lists no artifacts"),
    ("{not json", "not valid JSON"),
    ("", "not valid JSON"),
])
def test_empty_or_broken_manifest(tmp_path, content, msg):
    (tmp_path / "manifest.json").write_text(content)
    with pytest.raises(EdgeDigitsError, match=msg):
        bench.plan(bench.config_from_options(manifest=tmp_path), [CPU])


def _cli(*args, env=None):
    return subprocess.run(CLI + ["bench", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args", [["--batch", "0"], ["--runtimes", "nope"], ["--providers", "nope"],
                                  ["--manifest", "/nonexistent/folder"], ["--from-json", "/nonexistent.json"]])
def test_cli_bad_input_is_one_line_and_exit_2(args):
    p = _cli(*args)
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("error: ") and "Traceback" not in p.stderr


# ---------------------------------------------------------------- method


def test_time_loop_honours_min_runs_and_stats_are_consistent():
    t = bench_worker.time_loop(lambda x: x.sum(), [np.ones(10)], warmup=2, min_runs=25, min_time=0.0, max_time=5)
    assert len(t) >= 25 and (t > 0).all()
    s = bench_worker.latency_stats(t, batch=8)
    assert s["min_us"] <= s["p50_us"] <= s["p90_us"] <= s["p99_us"] <= s["p999_us"] <= s["max_us"]
    assert s["per_digit_us"] == pytest.approx(s["p50_us"] / 8)
    assert s["digits_per_s"] == pytest.approx(8 * len(t) / (t.sum() / 1e9))


def test_summary_speedup_and_goals_from_rows():
    rows = [
        {"status": "ok", "format": "tflite", "precision": "int8", "runtime": "litert", "provider": "CPU",
         "threads": 1, "batch": 1, "p50_us": 20.0, "per_digit_us": 20.0},
        {"status": "ok", "format": "keras", "precision": "fp32", "runtime": bench.BASELINE_RUNTIME,
         "provider": "CPU", "threads": 2, "batch": 1, "p50_us": 50000.0, "per_digit_us": 50000.0},
        {"status": "skipped: x", "format": "onnx", "precision": "fp32", "runtime": "onnxruntime", "provider": "CUDA"},
    ]
    s = bench.summarize(rows)
    assert s["speedup_vs_keras_predict"] == pytest.approx(2500)
    goals = {g["goal"].split(":")[0]: g for g in s["goals"]}
    assert goals["int8 LiteRT, 1 thread, batch 1"]["met"] is True
    assert [g["met"] for g in s["goals"]].count(None) == 2  # batch 64 rows were not measured
    assert s["counts"] == {"ok": 2, "skipped": 1, "failed": 0}


# ---------------------------------------------------------------- a real quick run


@pytest.fixture(scope="module")
def quick_run(export, tmp_path_factory):
    """One quick CLI run (LiteRT and ONNX Runtime only) in a fresh interpreter that must not load TensorFlow."""
    out = tmp_path_factory.mktemp("bench")
    code = (
        "import sys\n"
        "from edge_digits.cli import app\n"
        "try:\n"
        f"    app(['bench', '--manifest', {str(export)!r}, '--quick', '--runtimes', 'litert,onnxruntime',\n"
        "         '--threads', '1', '--batch', '1,8', '--json',\n"
        f"         '--csv', {str(out / 'b.csv')!r}, '--plot', {str(out / 'b.png')!r},\n"
        f"         '--json-file', {str(out / 'b.json')!r}, '--markdown', {str(out / 'B.md')!r}])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "assert 'tensorflow' not in sys.modules, 'bench of .tflite/.onnx imported TensorFlow'\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return out, json.loads(p.stdout), p


def test_quick_run_rows_have_the_contract_fields_and_sane_numbers(quick_run):
    _, doc, _ = quick_run
    env = doc["environment"]
    for k in ("cpu", "cores", "os", "versions", "onnxruntime_providers", "matmul_peak_gflops", "eval_set"):
        assert env.get(k), k
    assert all(g and g > 0 for g in env["matmul_peak_gflops"].values())
    ok = [r for r in doc["rows"] if r["status"] == "ok"]
    assert {r["runtime"] for r in ok} == {"litert", "onnxruntime"}
    for r in doc["rows"]:
        assert set(REQUIRED) <= r.keys()
        assert r["status"] == "ok" or r["status"].startswith(("skipped: ", "failed: "))
    for r in ok:
        assert r["size_bytes"] > 0 and r["load_ms"] > 0 and r["first_ms"] > 0 and r["peak_rss_mb"] > 0
        assert 0 < r["p50_us"] <= r["p90_us"] <= r["p99_us"]
        assert r["per_digit_us"] == pytest.approx(r["p50_us"] / r["batch"])
        assert r["digits_per_s"] > 0 and r["runs"] >= 5
        assert 0.0 <= r["accuracy"] <= 1.0 and r["eval_n"] == 500
        assert r["tensorflow_imported"] is False
        if r["flops_per_digit"] and r["precision"] != "int8":
            assert r["pct_peak"] > 0
        if r["precision"] == "int8":
            assert r["pct_peak"] is None  # no int8 peak is measured: no % of a float peak either


def test_quick_run_files(quick_run):
    out, doc, p = quick_run
    rows = list(csv.DictReader(io.StringIO((out / "b.csv").read_text())))
    assert len(rows) == len(doc["rows"]) and set(REQUIRED) <= rows[0].keys()
    assert (out / "b.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "b.json").read_text())["rows"] == doc["rows"]
    md = (out / "B.md").read_text()
    assert "## Goals" in md and "b.png" in md and "| format |" in md
    assert "p50 us" in p.stderr  # the table went to stderr, stdout held only the JSON
    assert not list(out.glob(".*"))  # no temp files left behind


def test_from_json_rerenders_without_measuring(quick_run, tmp_path):
    out, doc, _ = quick_run
    p = _cli("--from-json", str(out / "b.json"), "--csv", str(tmp_path / "again.csv"))
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "again.csv").read_text() == (out / "b.csv").read_text()


def test_a_broken_artifact_or_missing_provider_fails_its_rows_only(export, tmp_path):
    """A corrupt model file (which may even crash the native loader) and a faked CUDA provider that this
    onnxruntime cannot start: those rows fail with a reason, every other row still runs."""
    m = _manifest(export)
    keep = next(a for a in m["artifacts"] if a["format"] == "tflite")
    onnx = next(a for a in m["artifacts"] if a["format"] == "onnx")
    shutil.copy(export / keep["file"], tmp_path)
    shutil.copy(export / onnx["file"], tmp_path)
    data = (export / keep["file"]).read_bytes()
    (tmp_path / "broken.tflite").write_bytes(data[:8] + bytes(len(data) // 3))  # right identifier, garbage body
    broken = {**{k: v for k, v in keep.items() if k != "sha256"}, "file": "broken.tflite"}
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": [keep, broken, onnx]}))
    cfg = bench.config_from_options(manifest=tmp_path, quick=True, threads="1", batch="1", runtimes="litert,onnxruntime",
                                    providers="cpu,cuda")
    doc = bench.run(cfg, available=[CUDA, CPU])  # the faked list says CUDA; the installed onnxruntime has none
    by = {(r["file"], r["provider"]): r for r in doc["rows"]}
    assert by[(keep["file"], "CPU")]["status"] == "ok"
    assert by[("broken.tflite", "CPU")]["status"].startswith("failed: ")
    assert by[(onnx["file"], "CPU")]["status"] == "ok"
    assert by[(onnx["file"], "CUDA")]["status"].startswith("failed: ")


def test_runtime_only_install_skips_keras_rows(export):
    """With TensorFlow hidden (as on a runtime-only install) keras rows and the baseline are skipped, not errors."""
    code = ("import sys; sys.modules['tensorflow'] = None\n"
            "from edge_digits.bench import matrix as bench\n"
            f"rows = bench.plan(bench.config_from_options(manifest={str(export)!r}), ['CPUExecutionProvider'])\n"
            "k = [r for r in rows if r['runtime'] in ('keras', 'keras-predict')]\n"
            "assert k and all(r['status'] == 'skipped: TensorFlow not installed' for r in k), k\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]


# ---------------------------------------------------------------- the camera pipeline


def test_pipeline_stages_over_a_synthetic_video(export):
    cfg = bench.config_from_options(manifest=export, quick=True, pipeline="synthetic", pipeline_only=True)
    doc = bench.run(cfg)
    p = doc["pipeline"]
    assert doc["rows"] == [] and p["status"] == "ok" and p["frames"] == 10
    assert [s["stage"] for s in p["stages"]] == ["decode", "detect", "normalize", "classify", "draw", "total"]
    for s in p["stages"]:
        assert 0 <= s["p50_ms"] <= s["p90_ms"] <= s["p99_ms"]
    total = p["stages"][-1]["mean_ms"]
    assert sum(s["mean_ms"] for s in p["stages"][:-1]) == pytest.approx(total, rel=0.05)
    assert p["fps"] > 0 and p["tensorflow_imported"] is False
    assert "digits read per frame" in bench_report.pipeline_lines(doc)[0]


@pytest.mark.parametrize("args, msg", [(["--pipeline", "/nonexistent.mp4"], "no such video file"),
                                       (["--pipeline-only"], "--pipeline-only needs --pipeline")])
def test_pipeline_bad_input(args, msg):
    p = _cli(*args)
    assert p.returncode == 2 and p.stderr.startswith("error: ") and msg in p.stderr, p.stderr


def test_pipeline_times_the_int8_tflite_of_any_manifest(tmp_path):
    from edge_digits.bench.plan import BenchConfig, pipeline_model

    for name in ("edge-cam_fp32.tflite", "edge-cam_int8.tflite"):
        (tmp_path / name).write_bytes(b"x")
    entries = [{"file": n, "format": "tflite", "precision": p}
               for n, p in (("edge-cam_fp32.tflite", "fp32"), ("edge-cam_int8.tflite", "int8"))]
    artifacts.write_manifest(tmp_path, entries)
    assert pipeline_model(BenchConfig(manifest=tmp_path)).name == "edge-cam_int8.tflite"
