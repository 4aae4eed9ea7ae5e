import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parent.parent
FULL = os.environ.get("EDGE_DIGITS_DATA")


@pytest.fixture(scope="session")
def sample():
    from edge_digits.data.mnist import load_sample

    return load_sample()


@pytest.fixture
def no_full_data(monkeypatch, tmp_path):
    """Pretend no MNIST is installed anywhere (offline user with nothing)."""
    from edge_digits.data import mnist as data

    monkeypatch.delenv("EDGE_DIGITS_DATA", raising=False)
    monkeypatch.setattr(data, "KERAS_CACHE", tmp_path / "nothing" / "mnist.npz")


def full_data_or_skip():
    if not FULL or not Path(FULL).is_file():
        pytest.skip("full MNIST not available: set EDGE_DIGITS_DATA=path/to/mnist.npz (CI always has it)")
    return Path(FULL)


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """A 2-epoch edge model trained on the sample and exported to every format (needs TensorFlow)."""
    pytest.importorskip("tensorflow")
    from typer.testing import CliRunner

    from edge_digits.cli import app

    runner = CliRunner()
    root = tmp_path_factory.mktemp("exp")
    r = runner.invoke(app, ["train", "--arch", "edge", "--dataset", "sample", "--epochs", "2", "--out",
                            str(root / "run")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["export", str(root / "run"), "--int8", "--fp16", "--max-drop", "5", "--min-accuracy", "0",
                            "--calib-samples",
                            "100"])
    assert r.exit_code == 0, r.output
    return root / "run" / "export"
