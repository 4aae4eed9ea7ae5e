"""scripts/blend_detector.py: a fine-tune's weights averaged with its start, into a run folder export takes."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import full_data_or_skip

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "blend_detector.py"
SHIPPED = Path(__file__).resolve().parents[2] / "export" / "detector" / "detector.keras"


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=300)


def _run_folder(path, init):
    path.mkdir()
    (path / "model.keras").write_bytes(SHIPPED.read_bytes())
    (path / "metrics.json").write_text(json.dumps({"arch": "detector", "init": init, "dev": {"recall": 0.5}}))
    (path / "history.csv").write_text("step,loss\n1,2\n")
    return path


@pytest.mark.parametrize("case, msg", [("weight", "--weight"), ("nan", "--weight"), ("negative", "--weight"),
                                       ("missing", "not a detector run folder"),
                                       ("scratch", "trained from scratch"), ("changed", "not the file")])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, case, msg):
    run = tmp_path / "none" if case == "missing" else _run_folder(tmp_path / "run", None if case == "scratch" else str(SHIPPED))
    if case == "changed":  # the run started from a file that has been replaced since
        m = json.loads((run / "metrics.json").read_text())
        (run / "metrics.json").write_text(json.dumps({**m, "init_sha256": "0" * 64}))
    r = _run(run, "--out", tmp_path / "out", *{"weight": ["--weight", "2"], "nan": ["--weight", "nan"], "negative": ["--weight", "-0.5"]}.get(case, []))
    assert r.returncode == 1 and r.stderr.startswith("error:") and msg in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_the_blend_is_the_weighted_mean_and_is_scored_on_dev_pages(tmp_path):
    data = full_data_or_skip()
    pytest.importorskip("tensorflow")
    import keras

    from edge_digits.training.detector_model import build_detector
    from edge_digits.vision.detector import IN_H, IN_W

    zero = build_detector((IN_H, IN_W, 1))
    zero.set_weights([np.zeros_like(w) for w in zero.get_weights()])
    zero.save(tmp_path / "zero.keras")
    run = _run_folder(tmp_path / "run", str(tmp_path / "zero.keras"))
    r = _run(run, "--weight", "0.25", "--data", data, "--dev-pages", "3", "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    got = keras.models.load_model(tmp_path / "out" / "model.keras", compile=False).get_weights()
    ref = keras.models.load_model(SHIPPED, compile=False).get_weights()
    assert all(np.allclose(g, 0.25 * w, atol=1e-6) for g, w in zip(got, ref))
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m["blend"]["weight"] == 0.25 and m["blend"]["fine_tuned_dev"] == {"recall": 0.5}
    assert m["dev"]["pages"] == 3 and m["dev"]["digits"] > 0 and m["init"] == str(tmp_path / "zero.keras")
    assert (tmp_path / "out" / "history.csv").is_file()
