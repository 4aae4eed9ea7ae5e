"""train, export, evaluate and bench on absurd options, bad output paths and signals (issue 16)."""
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edge_digits.cli import app
from edge_digits.config import EdgeDigitsError

cli = CliRunner()


def _one_line(r, code=2, text=None):
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output and "error: " in r.stderr, r.stderr
    if text:
        assert text in r.stderr, r.stderr


@pytest.mark.parametrize("args,text", [
    (["--lr", "nan"], "--lr must be a finite number"), (["--lr", "inf"], "--lr must be a finite number"),
    (["--lr", "-0.1"], "--lr must be > 0"), (["--lr", "1e9"], "--lr must be at most"),
])
def test_train_absurd_numbers(tmp_path, args, text):
    t = time.perf_counter()
    _one_line(cli.invoke(app, ["train", "--dataset", "sample", "--out", str(tmp_path / "r"), *args]), 2, text)
    assert time.perf_counter() - t < 10 and not (tmp_path / "r").exists()


def test_train_out_onto_a_file_or_under_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    _one_line(cli.invoke(app, ["train", "--dataset", "sample", "--out", str(f)]), 2, "not a folder")
    _one_line(cli.invoke(app, ["train", "--dataset", "sample", "--out", str(f / "run")]), 2, "is a file, not a folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_train_out_read_only(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    _one_line(cli.invoke(app, ["train", "--dataset", "sample", "--out", str(ro / "run")]), 2, "not writable")


def test_second_run_to_the_same_folder_does_not_replace_the_first(tmp_path):
    from edge_digits.training.train import _publish_run

    out = tmp_path / "run"
    first, second = tmp_path / ".a", tmp_path / ".b"
    for d, tag in ((first, "first"), (second, "second")):
        d.mkdir()
        (d / "metrics.json").write_text(tag)
    _publish_run(first, out, force=False)
    with pytest.raises(EdgeDigitsError, match="appeared while this run was training; kept it and saved this run as"):
        _publish_run(second, out, force=False)
    assert (out / "metrics.json").read_text() == "first"
    kept = [d for d in tmp_path.iterdir() if d.name.startswith("run.")]
    assert len(kept) == 1 and (kept[0] / "metrics.json").read_text() == "second"


def test_train_batch_size_bigger_than_the_data_is_clamped(tmp_path):
    pytest.importorskip("tensorflow")
    r = cli.invoke(app, ["train", "--arch", "mlp-small", "--dataset", "sample", "--epochs", "1",
                         "--batch-size", "1000000000", "--out", str(tmp_path / "r")])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert "note: --batch-size 1000000000 is more than" in r.stderr and m["batch_size"] < 100_000


@pytest.mark.parametrize("args,text", [(["--max-drop", "nan"], "--max-drop must be a finite"),
                                       (["--max-drop", "-1"], "--max-drop must be >= 0")])
def test_export_absurd_numbers(tmp_path, args, text):
    _one_line(cli.invoke(app, ["export", str(tmp_path / "m.keras"), *args]), 2, text)


def test_export_out_onto_a_file_refused_before_work(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    t = time.perf_counter()
    _one_line(cli.invoke(app, ["export", str(tmp_path / "missing.keras"), "--out", str(f)]), 2, "not a folder")
    _one_line(cli.invoke(app, ["export", str(tmp_path / "missing.keras"), "--out", str(f / "x")]), 2, "is a file")
    assert time.perf_counter() - t < 10


def test_export_interrupted_leaves_nothing_and_exits_130(tmp_path, monkeypatch):
    """Ctrl-C (or SIGTERM, which the CLI turns into it) mid-export: no .export-XXXX/, no empty folder, 130."""
    from edge_digits.exporters import export as ex
    from edge_digits.exporters.base import Exporter
    from edge_digits.config import Format, Precision

    class Model:
        input_shape = (None, 28, 28, 1)

        def predict(self, x, **kw):
            return np.full((len(x), 10), 0.1, np.float32)

        def count_params(self):
            return 1

    src = tmp_path / "m.keras"
    src.write_bytes(b"model")
    fake = type("S", (), {"model": Model(), "path": src, "arch": "edge", "metrics": {"flops_per_digit": 1}})()
    monkeypatch.setattr(ex, "load_source", lambda p: fake)

    def interrupted(*a):
        raise KeyboardInterrupt

    monkeypatch.setattr(ex, "selected_exporters", lambda cfg: [Exporter(Format.keras, Precision.fp32, interrupted)])
    out = tmp_path / "out"
    r = cli.invoke(app, ["export", str(src), "--out", str(out)])
    assert r.exit_code == 130 and "interrupted" in r.stderr, r.output
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]


# ---------------------------------------------------------------- bench


@pytest.mark.parametrize("args,text", [(["--min-time", "nan"], "--min-time must be a finite"),
                                       (["--min-time", "inf"], "--min-time must be a finite"),
                                       (["--threads", "99999"], "at most 256"),
                                       (["--batch", "1000000000"], "--batch-size must be at most")])
def test_bench_absurd_numbers(args, text):
    _one_line(cli.invoke(app, ["bench", *args]), 2, text)


def test_bench_outputs_onto_a_folder_or_under_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    for opt in ("--json-file", "--csv", "--markdown"):
        _one_line(cli.invoke(app, ["bench", opt, str(tmp_path)]), 2, "is a folder")
        _one_line(cli.invoke(app, ["bench", opt, str(f / "x")]), 2, "is a file, not a folder")


def _tampered_manifest(tmp_path):
    from edge_digits import config

    shipped = config.models_dir()
    man = json.loads((shipped / "manifest.json").read_text())
    entry = next(a for a in man["artifacts"] if a["file"] == "edge_int8.tflite")
    data = (shipped / entry["file"]).read_bytes()
    (tmp_path / entry["file"]).write_bytes(data + b"\0")
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": [entry]}))
    return tmp_path


def test_bench_keeps_the_hash_note_and_exits_1_on_failed_rows(tmp_path, monkeypatch):
    from edge_digits.bench import matrix

    (tmp_path / "m").mkdir()
    man = _tampered_manifest(tmp_path / "m")
    monkeypatch.setattr(matrix, "matmul_peaks", lambda *a, **k: {1: None})
    monkeypatch.setattr(matrix, "available_providers", lambda: ["CPUExecutionProvider"])
    monkeypatch.setattr(matrix, "run_job", lambda job, t, timeout: {"status": "ok", "note": "XNNPACK"})
    r = cli.invoke(app, ["bench", "--manifest", str(man), "--quick", "--no-baseline", "--threads", "1", "--batch", "1",
                         "--json-file", str(tmp_path / "r.json")])
    assert r.exit_code == 0, r.output
    row = json.loads((tmp_path / "r.json").read_text())["rows"][0]
    assert row["note"] == "sha256 differs from the manifest; XNNPACK"
    monkeypatch.setattr(matrix, "run_job", lambda job, t, timeout: {"status": "failed: runtime crashed (SIGSEGV)"})
    r = cli.invoke(app, ["bench", "--manifest", str(man), "--quick", "--no-baseline", "--threads", "1", "--batch", "1"])
    assert r.exit_code == 1 and "1 row failed" in r.stderr, r.output


def test_bench_write_failure_at_the_end_keeps_the_results(tmp_path, monkeypatch):
    from edge_digits.bench import matrix, report

    (tmp_path / "m").mkdir()
    man = _tampered_manifest(tmp_path / "m")
    monkeypatch.setattr(matrix, "matmul_peaks", lambda *a, **k: {1: None})
    monkeypatch.setattr(matrix, "available_providers", lambda: ["CPUExecutionProvider"])
    monkeypatch.setattr(matrix, "run_job", lambda job, t, timeout: {"status": "ok"})

    def disk_full(doc, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "write_csv", disk_full)
    r = cli.invoke(app, ["bench", "--manifest", str(man), "--quick", "--no-baseline", "--threads", "1", "--batch", "1",
                         "--csv", str(tmp_path / "r.csv")])
    assert r.exit_code == 2 and "No space left on device" in r.stderr and "results are kept in" in r.stderr, r.output
    kept = Path(r.stderr.split("results are kept in ")[1].split(" ")[0])
    try:
        assert json.loads(kept.read_text())["rows"]
    finally:
        kept.unlink()


def test_bench_ctrl_c_exits_130(monkeypatch):
    from edge_digits.bench import matrix

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(matrix, "run", interrupted)
    r = cli.invoke(app, ["bench", "--quick"])
    assert r.exit_code == 130 and "interrupted" in r.stderr
