"""Every script in scripts/ answers --help, and a path that is not there is one line on stderr and a non-zero
exit, never a traceback: they are how every figure in benchmarks/ is re-made, so users run them too."""
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = sorted(p for p in (Path(__file__).resolve().parent.parent / "scripts").glob("*.py")
                 if '__name__ == "__main__"' in p.read_text())  # data_args.py is a helper module
# scripts whose first positional argument is a file or folder to read
PATH_FIRST = ["bench_export.py", "make_sample.py", "model_card.py", "demo.py", "blend_detector.py"]


def _run(*args):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_answers_help(script):
    r = _run(script, "--help")
    assert r.returncode == 0 and "usage:" in r.stdout, r.stderr[-1500:]


@pytest.mark.parametrize("name", PATH_FIRST)
def test_script_refuses_a_missing_path_in_one_line(name, tmp_path):
    r = _run(Path(SCRIPTS[0]).parent / name, tmp_path / "nothing-here", *(["--out", tmp_path / "o"] if name == "blend_detector.py" else []))
    assert r.returncode != 0
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr[-1500:]
