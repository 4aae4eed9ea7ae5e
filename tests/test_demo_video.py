"""scripts/make_demo_video.py: the demo clip (tests/data/demo.mp4) and longer ones for soak tests, from the
bundled sample (no data needed)."""
import subprocess
import sys
from pathlib import Path

import cv2

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make_demo_video.py"


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


def test_writes_the_frames_asked_for(tmp_path):
    out = tmp_path / "clip.mp4"
    r = _run(str(out), "--frames", "5")
    assert r.returncode == 0, r.stderr
    assert "5 frames" in r.stdout
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5


def test_help_and_bad_frames_write_nothing(tmp_path):
    r = _run("--help")
    assert r.returncode == 0 and "--frames" in r.stdout
    for bad in ("0", "-3", "1000000000", "nan"):
        r = _run(str(tmp_path / "x.mp4"), "--frames", bad)
        assert r.returncode == 2 and "--frames" in r.stderr and not list(tmp_path.iterdir())
