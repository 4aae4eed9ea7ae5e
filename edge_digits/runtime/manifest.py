"""The manifest that travels with every exported file: read, check, write. numpy-free and TF-free, since the
inference path reads it on start-up."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from edge_digits.config import EdgeDigitsError
from edge_digits.core import files
from edge_digits.core.files import sha256_file  # noqa: F401 - part of this module's API

MANIFEST = "manifest.json"
SCHEMA = 1
# What a 28x28 input must look like; the same for every artifact of this project.
PREPROCESS = {
    "image": "28x28 grayscale, one digit",
    "ink": "high (white digit on black), as MNIST",
    "runtime_input": "uint8 0..255; each runtime scales (/255) and quantizes from the input block itself",
    "model_range": [0.0, 1.0],
    "centering": "MNIST: fit into a 20x20 box keeping aspect ratio, pad to 28x28, centre of mass at the centre",
}
LABELS = [str(i) for i in range(10)]


def read_manifest(folder_or_file: Path) -> dict:
    p = Path(folder_or_file)
    if p.is_dir():
        p = p / MANIFEST
    if not p.is_file():
        raise EdgeDigitsError(f"{p}: no manifest here (export a model with `edge-digits export` first)")
    try:
        m = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EdgeDigitsError(f"{p}: manifest is not valid JSON ({e})") from None
    if not isinstance(m, dict) or not isinstance(m.get("artifacts"), list):
        raise EdgeDigitsError(f"{p}: manifest has no 'artifacts' list")
    if not m["artifacts"]:
        raise EdgeDigitsError(f"{p}: manifest lists no artifacts")
    for i, a in enumerate(m["artifacts"]):
        if not isinstance(a, dict) or not {"file", "format", "precision"} <= a.keys():
            raise EdgeDigitsError(f"{p}: artifact #{i} needs at least file, format and precision")
    return m


def find_entry(model_path: Path) -> dict | None:
    """The manifest entry of a model file, when a manifest sits beside it."""
    mp = Path(model_path).parent / MANIFEST
    if not mp.is_file():
        return None
    try:
        m = read_manifest(mp)
    except EdgeDigitsError:
        return None
    return next((a for a in m["artifacts"] if a.get("file") == Path(model_path).name), None)


def check_hash(model_path: Path, entry: dict | None, strict: bool = False) -> bool:
    """Compare a file with its manifest's sha256: warn on mismatch, or fail with strict."""
    if not entry or "sha256" not in entry:
        if strict:
            raise EdgeDigitsError(f"{model_path}: --strict needs a manifest entry with a sha256")
        return True
    actual = sha256_file(model_path)
    if actual == entry["sha256"]:
        return True
    msg = f"{model_path}: sha256 {actual[:12]}... differs from its manifest ({entry['sha256'][:12]}...)"
    if strict:
        raise EdgeDigitsError(msg)
    print(f"warning: {msg}", file=sys.stderr)
    return False


def write_manifest(folder: Path, artifacts: list[dict], extra: dict | None = None) -> Path:
    """Write manifest.json atomically, keeping entries of files that this export did not replace."""
    folder = Path(folder)
    old = []
    if (folder / MANIFEST).is_file():
        try:
            old = read_manifest(folder)["artifacts"]
        except EdgeDigitsError:
            old = []
    names = {a["file"] for a in artifacts}
    kept = [a for a in old if a["file"] not in names and (folder / a["file"]).is_file()]
    doc = {"schema": SCHEMA, **(extra or {}), "artifacts": kept + artifacts}
    files.write_json(folder / MANIFEST, doc)
    return folder / MANIFEST
