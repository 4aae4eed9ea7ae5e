"""Issue 15: the CLI reads like its ecosystem, and a base install without TensorFlow says what to install."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO
from edge_digits.cli import app

cli = CliRunner()
COMMANDS = ["train", "evaluate", "export", "camera", "predict", "bench"]


def _help(args, columns=80):
    env = {**os.environ, "COLUMNS": str(columns)}
    r = subprocess.run([sys.executable, "-m", "edge_digits.cli", *args, "--help"], capture_output=True, text=True,
                       env=env, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_top_help_has_one_line_summaries_and_plain_flags():
    out = _help([])
    listed = out.split("Commands:")[1].strip().splitlines()
    assert [ln.split()[0] for ln in listed] == COMMANDS  # one line each: the first docstring line
    assert "<bool>" not in out and max(len(ln) for ln in out.splitlines()) <= 80


@pytest.mark.parametrize("cmd", COMMANDS)
def test_command_help_fits_80_columns_without_bool_metavars(cmd):
    out = _help([cmd])
    assert "<bool>" not in out
    assert max(len(ln) for ln in out.splitlines()) <= 80


def test_one_name_per_option_with_hidden_aliases():
    out = _help(["bench"], columns=120)
    assert "--format " in out and "--batch-size" in out
    assert "--formats" not in out and "--batch " not in out
    # the old names still work
    r = cli.invoke(app, ["bench", "--batch", "0"])
    assert r.exit_code == 2 and "--batch-size must be > 0" in r.output


def _without(module: str, argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            "from edge_digits.cli import app\n"
            f"sys.argv = ['edge-digits', *{argv!r}]\napp()")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.parametrize("argv", [["train", "--dataset", "sample", "--epochs", "1", "--out", "run"],
                                  ["export", "model.keras"],
                                  ["evaluate", "model.keras", "--dataset", "sample"]])
def test_without_tensorflow_one_line_names_the_train_extra(argv, tmp_path):
    (tmp_path / "model.keras").write_bytes(b"not really")
    r = _without("tensorflow", argv, tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines[-1].startswith("error: ") and "pip install 'edge-digits[train]'" in lines[-1]


def test_camera_and_predict_need_no_onnxruntime(tmp_path):
    r = _without("onnxruntime", ["camera", "--source", str(REPO / "tests/data/demo.mp4"), "--headless",
                                 "--max-frames", "2"], tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("frame 0: ")  # headless, no --json: one text line a frame


def test_bench_one_model_file_and_compact_table(tmp_path):
    from edge_digits.config import default_model

    env = {**os.environ, "COLUMNS": "100"}
    r = subprocess.run([sys.executable, "-m", "edge_digits.cli", "bench", str(default_model()), "--quick",
                        "--threads", "1", "--batch-size", "1", "--no-baseline"],
                       capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert max(len(ln) for ln in out.splitlines()) <= 100, out
    assert "tflite/int8" in out and "onnx/" not in out  # that one file only
    assert "goal:" not in out  # the project's goals are about its shipped models, not one file
    assert "TensorRT" in out and "Tensorrt" not in out  # the GPU rows are one footer line


def test_bench_json_int8_rows_have_no_pct_peak(tmp_path):
    from edge_digits.config import default_model

    r = subprocess.run([sys.executable, "-m", "edge_digits.cli", "bench", str(default_model()), "--quick",
                        "--threads", "1", "--batch-size", "1", "--no-baseline", "--json"],
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    ok = [row for row in doc["rows"] if row["status"] == "ok"]
    assert ok and all(row["pct_peak"] is None for row in ok)
    assert doc["summary"]["goals"] == [] and doc["environment"]["shipped_models"] is False


def test_plot_cell_text_is_readable_on_every_colour():
    pytest.importorskip("matplotlib")
    from edge_digits.training.reports import cell_text_color

    assert cell_text_color(0.0, 10.0) == "black" and cell_text_color(10.0, 10.0) == "white"


def test_history_csv(tmp_path):
    from edge_digits.training.train import write_history_csv

    write_history_csv({"loss": [1.0, 0.5], "val_accuracy": [0.8, 0.9]}, tmp_path / "h.csv")
    assert (tmp_path / "h.csv").read_text().splitlines() == ["epoch,loss,val_accuracy", "1,1,0.8", "2,0.5,0.9"]
