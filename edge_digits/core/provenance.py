"""What produced a result: the library versions and the git commit of the code."""
from __future__ import annotations

import platform
import subprocess
from pathlib import Path

from edge_digits.config import PACKAGE_DIR


def git_commit() -> str | None:
    """The commit of the checkout this package runs from, "-dirty" when tracked files differ. None for an
    installed copy: the package folder must itself be inside the work tree git reports (else git would
    describe whatever repository the site-packages folder happens to sit in)."""
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=PACKAGE_DIR, capture_output=True,
                             text=True, timeout=5)
        if top.returncode != 0 or not (Path(top.stdout.strip()) / "edge_digits").resolve() == PACKAGE_DIR:
            return None
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"], cwd=PACKAGE_DIR,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def library_versions(*names: str) -> dict:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for n in names or ("numpy", "tensorflow", "keras", "onnxruntime", "ai-edge-litert", "opencv-python-headless",
                       "tf2onnx", "onnx"):
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            pass
    return out


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed). matplotlib.use is process-wide;
    Agg is what every caller here wants, and a host that chose another backend before is left alone."""
    import matplotlib

    if "matplotlib.pyplot" not in __import__("sys").modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
