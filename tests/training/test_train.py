"""`edge-digits train` and `evaluate` on the bundled sample: short runs, real TensorFlow."""
import json

import pytest
from typer.testing import CliRunner

from edge_digits.cli import app
from edge_digits.config import Arch

pytest.importorskip("tensorflow")
runner = CliRunner()


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "small"
    r = runner.invoke(app, ["train", "--arch", "mlp-small", "--dataset", "sample", "--epochs", "2",
                            "--seed", "3", "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def test_run_folder_holds_model_metrics_and_plots(small_run):
    for name in ("model.keras", "metrics.json", "curves.png", "confusion.png", "misclassified.png"):
        assert (small_run / name).stat().st_size > 0, name
    m = json.loads((small_run / "metrics.json").read_text())
    for key in ("accuracy", "loss", "per_class", "confusion_matrix", "parameters", "flops_per_digit",
                "train_seconds", "epochs_run", "seed", "data", "versions", "git_commit", "history"):
        assert key in m, key
    assert m["parameters"] == 118282 and m["epochs_run"] == 2 and m["data"]["eval_set"] == "sample"
    assert sum(map(sum, m["confusion_matrix"])) == 2000
    assert m["accuracy"] > 0.8  # 2 epochs on 3000 images: far above chance (10%)
    assert not list(small_run.parent.glob(".*tmp*")), "temporary folders left behind"


def test_same_seed_same_accuracy(small_run, tmp_path):
    r = runner.invoke(app, ["train", "--arch", "mlp-small", "--dataset", "sample", "--epochs", "2",
                            "--seed", "3", "--out", str(tmp_path / "again")])
    assert r.exit_code == 0, r.output
    a = json.loads((small_run / "metrics.json").read_text())["accuracy"]
    b = json.loads((tmp_path / "again" / "metrics.json").read_text())["accuracy"]
    assert abs(a - b) * 100 <= 0.05


def test_evaluate_reports_the_same_accuracy(small_run):
    r = runner.invoke(app, ["evaluate", str(small_run), "--dataset", "sample", "--json"])
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)
    assert abs(m["accuracy"] - json.loads((small_run / "metrics.json").read_text())["accuracy"]) < 1e-6


@pytest.mark.slow
def test_several_optimizers_are_compared(tmp_path):
    out = tmp_path / "cmp"
    r = runner.invoke(app, ["train", "--arch", "mlp-small", "--dataset", "sample", "--epochs", "1",
                            "--optimizer", "adam,sgd", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "adam" / "model.keras").is_file() and (out / "sgd" / "model.keras").is_file()
    assert (out / "comparison.png").stat().st_size > 0
    rows = json.loads((out / "comparison.json").read_text())
    assert [x["optimizer"] for x in rows] == ["adam", "sgd"]
    # the table is what each run measured, not a copy of one of them
    for x in rows:
        run = json.loads((out / x["optimizer"] / "metrics.json").read_text())
        assert x["accuracy"] == run["accuracy"] and x["optimizer"] == run["optimizer"]
        assert f"| {x['optimizer']} | {x['accuracy']:.4f} |" in (out / "comparison.md").read_text()
    assert rows[0]["accuracy"] != rows[1]["accuracy"]


def test_every_arch_builds_with_its_parameter_count():
    from edge_digits.training import models

    counts = {a: models.build(a).count_params() for a in Arch}
    assert counts[Arch.mlp] == 669706
    assert counts[Arch.edge] <= 50000
    assert models.flops_per_digit(models.build(Arch.edge)) <= 3_000_000


@pytest.mark.slow
def test_camera_recipe_adds_camera_crops(tmp_path):
    out = tmp_path / "cam"
    r = runner.invoke(app, ["train", "--arch", "edge-cam", "--dataset", "sample", "--epochs", "1",
                            "--camera-pages", "20", "--out", str(out)])
    assert r.exit_code == 0, r.output
    m = json.loads((out / "metrics.json").read_text())
    # the detector's crops of 20 generated pages: most are digits (one per digit found), a minority no digit
    assert m["arch"] == "edge-cam" and m["camera_crops"] >= 50
    assert 0 < m["camera_not_digits"] < 0.5 * m["camera_crops"]


@pytest.mark.slow
def test_digits8x8_trains_offline(tmp_path):
    pytest.importorskip("sklearn")
    r = runner.invoke(app, ["train", "--arch", "digits8x8", "--dataset", "sklearn-digits", "--epochs", "3",
                            "--out", str(tmp_path / "d8")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "d8" / "metrics.json").read_text())["accuracy"] > 0.8  # 87% measured


@pytest.mark.parametrize("args,message", [
    (["--arch", "resnet"], "resnet"),
    (["--optimizer", "adamw"], "unknown optimizer 'adamw'"),
    (["--epochs", "0"], "--epochs must be > 0"),
    (["--batch-size", "-1"], "--batch-size must be > 0"),
    (["--camera-pages", "-5"], "--camera-pages must be >= 0"),
    (["--camera-pages", "10", "--arch", "digits8x8"], "--camera-pages needs a 28x28 model"),
    (["--data", "/no/such/mnist.npz"], "no such file"),
    (["--arch", "digits8x8"], "digits8x8 goes with --dataset sklearn-digits"),
])
def test_bad_input_is_one_clear_line(tmp_path, args, message):
    r = runner.invoke(app, ["train", "--dataset", "mnist", "--out", str(tmp_path / "x"), *args])
    assert r.exit_code == 2
    assert message in r.output and "Traceback" not in r.output


def test_unreadable_data_file(tmp_path):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"\x00" * 100)
    r = runner.invoke(app, ["train", "--data", str(bad), "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "cannot read as .npz" in r.output and not (tmp_path / "x").exists()


def test_existing_run_folder_needs_force(small_run):
    r = runner.invoke(app, ["train", "--dataset", "sample", "--out", str(small_run)])
    assert r.exit_code == 2 and "--force" in r.output


def test_evaluate_bad_model(tmp_path):
    bad = tmp_path / "m.keras"
    bad.write_bytes(b"garbage")
    r = runner.invoke(app, ["evaluate", str(bad)])
    assert r.exit_code == 2 and "cannot load" in r.output


@pytest.mark.slow
def test_ctrl_c_keeps_the_best_model_so_far(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "interrupted"
    p = subprocess.Popen([sys.executable, "-m", "edge_digits.cli", "train", "--arch", "mlp-small", "--dataset",
                          "sample", "--epochs", "500", "--out", str(out)],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in p.stderr:
        if line.startswith("epoch   2/"):
            p.send_signal(signal.SIGINT)
            break
    err = p.stderr.read()
    assert p.wait(timeout=120) == 0, err
    assert "interrupted: keeping the best model so far" in err and "Traceback" not in err
    m = json.loads((out / "metrics.json").read_text())
    assert m["interrupted"] and 2 <= m["epochs_run"] < 500 and (out / "model.keras").is_file()
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")], "temporary folder left behind"


def test_evaluate_any_format_without_tensorflow_for_tflite():
    import subprocess
    import sys

    code = ("import sys, json\n"
            "from typer.testing import CliRunner\n"
            "from edge_digits.cli import app\n"
            "r = CliRunner().invoke(app, ['evaluate', 'export/edge_int8.tflite', '--dataset', 'sample', '--json'])\n"
            "assert r.exit_code == 0, r.output\n"
            "m = json.loads(r.stdout)\n"
            "assert m['n'] == 2000 and m['accuracy'] > 0.98 and m['parameters'] > 0\n"
            "assert 'tensorflow' not in sys.modules\n")
    from conftest import REPO

    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
