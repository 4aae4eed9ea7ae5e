"""The design rules of the package, checked over its source: imports flow one way down the stages, the edge
path never reaches training, export or TensorFlow, and no module grows past 400 lines."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "edge_digits"
EDGE = ("core", "runtime", "vision", "app", "bench")  # what a device with the runtime-only install runs
FORBIDDEN = ("edge_digits.training", "edge_digits.exporters", "tensorflow", "keras", "tf2onnx", "onnx.")
# The only exceptions, each a row that cannot run without TensorFlow anyway.
ALLOWED = {
    ("runtime/keras_ref.py", "tensorflow"), ("runtime/keras_ref.py", "keras"),  # the reference runner, lazily
    ("core/quiet.py", "tensorflow"),  # import_tensorflow(), called by training and the Keras runner only
    ("bench/worker.py", "tensorflow"), ("bench/worker.py", "keras"),  # the keras rows, in their own process
    ("bench/worker.py", "edge_digits.training"),  # the Keras model.predict baseline row builds its MLP
}
# Which stage may import which (a stage imports itself and everything below it).
BELOW = {
    "core": set(), "data": {"core"}, "runtime": {"core"}, "vision": {"core", "runtime"},
    "training": {"core", "data", "runtime", "vision"}, "exporters": {"core", "data", "runtime", "vision", "training"},
    "app": {"core", "runtime", "vision"}, "bench": {"core", "data", "runtime", "vision", "app"},
}


def modules():
    return sorted(p for p in PKG.rglob("*.py"))


def imports(path: Path) -> list[str]:
    """Every module a file imports, at the top or inside a function (absolute names)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (the package uses absolute ones)"
            out += [f"{node.module}.{a.name}" for a in node.names]
    return out


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_edge_path_never_imports_training_export_or_tensorflow(path):
    rel = str(path.relative_to(PKG))
    if rel.split("/")[0] not in EDGE:
        return
    for name in imports(path):
        hit = next((f for f in FORBIDDEN if name == f.rstrip(".") or name.startswith(f.rstrip(".") + ".")), None)
        if hit and (rel, hit.rstrip(".")) not in ALLOWED:
            pytest.fail(f"{rel} imports {name}: the edge path must not (see ALLOWED for the exceptions)")


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_flow_down_the_stages(path):
    rel = path.relative_to(PKG)
    stage = rel.parts[0] if len(rel.parts) > 1 else None
    if stage not in BELOW:
        return  # cli.py, config.py, __init__.py: the top
    for name in imports(path):
        parts = name.split(".")
        if parts[0] != "edge_digits" or len(parts) < 2 or parts[1] in ("config", "__version__"):
            continue
        other = parts[1]
        if other == stage:
            continue
        if other not in BELOW[stage] and (str(rel), f"edge_digits.{other}") not in ALLOWED:
            pytest.fail(f"{rel} ({stage}) imports {name}: {stage} may import only {sorted(BELOW[stage])}")


def test_no_module_over_400_lines():
    long = [f"{p.relative_to(PKG)} ({n} lines)" for p in modules() if (n := len(p.read_text().splitlines())) > 400]
    assert not long, long


def test_the_rule_catches_a_forbidden_import(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text("def f():\n    from edge_digits.training import models\n    import tensorflow as tf\n")
    assert imports(bad) == ["edge_digits.training.models", "tensorflow"]
