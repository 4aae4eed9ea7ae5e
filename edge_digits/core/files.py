"""Hashing, and writing a file or a folder so that nothing half-written is ever left: the work goes to a
hidden temporary sibling, unique to this process, and is renamed into place only when complete."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from edge_digits.config import EdgeDigitsError


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _umask() -> int:
    # os.umask can only be read by setting it; done once, at import, before any thread starts
    m = os.umask(0)
    os.umask(m)
    return m


UMASK = _umask()


def check_writable(path: Path, folder: bool = False, force: bool = True) -> Path:
    """Fail before any work starts when `path` cannot be written: its parent is missing, is a file, or is
    read-only; `path` is a folder where a file goes (or a file where a folder goes); or it exists and
    force is off. Creates missing parent folders."""
    path = Path(path)
    if path.exists():
        if folder and not path.is_dir():
            raise EdgeDigitsError(f"{path}: exists and is not a folder")
        if not folder and path.is_dir():
            raise EdgeDigitsError(f"{path}: is a folder, expected a file name")
        if not force:
            raise EdgeDigitsError(f"{path}: exists (use --force to replace it)")
    parent = path.parent
    for p in [parent, *parent.parents]:
        if p.exists():
            if not p.is_dir():
                raise EdgeDigitsError(f"{path}: {p} is a file, not a folder")
            break
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EdgeDigitsError(f"{path}: cannot create folder {parent} ({e.strerror})") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise EdgeDigitsError(f"{path}: folder {parent} is not writable")
    return path


def _temp_name(path: Path) -> Path:
    # unique per process and call: two runs writing the same target never share a temporary file
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".partial{path.suffix}")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; a result is for everyone to read, like any new file
    return Path(tmp)


def publish(tmp: Path, path: Path, replace: bool = True) -> None:
    """Rename a finished temporary file into place. With replace=False a file that appeared at `path`
    meanwhile is kept and this one refused (link + unlink: no window where both could win)."""
    if replace:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise EdgeDigitsError(f"{path}: appeared while this run was writing it; kept it (use --force to replace)") from None
    os.unlink(tmp)


@contextlib.contextmanager
def atomic_file(path: Path, replace: bool = True):
    """`with atomic_file(p) as tmp: write tmp` -> renamed to p when the block ends without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    try:
        yield tmp
        publish(tmp, path, replace)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: Path, text: str, replace: bool = True) -> Path:
    with atomic_file(path, replace) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: Path, obj, replace: bool = True) -> Path:
    return write_text(path, json.dumps(obj, indent=2) + "\n", replace)


@contextlib.contextmanager
def atomic_dir(path: Path, force: bool = False):
    """`with atomic_dir(p) as tmp: fill tmp` -> tmp renamed to p when complete. An existing p is replaced
    only with force (also when it appeared during the work); on any error or interrupt tmp is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    os.chmod(tmp, 0o777 & ~UMASK)  # mkdtemp makes 0700
    try:
        yield tmp
        if path.exists():
            if not force:
                raise EdgeDigitsError(f"{path}: appeared while this run was writing it; kept it "
                                      "(use --force to replace)")
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
