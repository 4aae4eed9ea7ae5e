"""The wheel carries the shipped models: export/ stays their source in a checkout, and this build step copies
what an edge device needs by default into edge_digits/models/ (where config.models_dir() and sample_path()
look first). Copied: export/manifest.json with export's .tflite and .onnx files (int8 and fp32: bench
compares them), every export/<sub>/*_int8.tflite (and *_fp16.tflite, and the accept and link models' accept.json and links.json) with that
folder's manifest.json when it has one (camera, boxfit, detector, refine, accept, links, and any later one), and tests/data/mnist_sample.npz. Each copied manifest lists only the files copied with
it. Left out to keep the wheel small: the .keras sources (TensorFlow only) and the subfolders' fp32 and
.onnx files (see the README's Install section)."""
import json
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def shipped_files() -> list[tuple[Path, str]]:
    """(source, path under edge_digits/models/) for every file the wheel ships."""
    export = ROOT / "export"
    out = []
    for folder in [export, *sorted(p for p in export.iterdir() if p.is_dir())] if export.is_dir() else []:
        rel = folder.relative_to(export)
        pats = ["*.tflite", "*.onnx"] if folder == export else ["*_int8.tflite", "*_fp16.tflite", "accept.json", "links.json"]
        manifest = [folder / "manifest.json"] if (folder / "manifest.json").is_file() else []
        for f in [*manifest, *sorted(f for pat in pats for f in folder.glob(pat))]:
            out.append((f, str(rel / f.name) if str(rel) != "." else f.name))
    sample = ROOT / "tests" / "data" / "mnist_sample.npz"
    if sample.is_file():
        out.append((sample, "mnist_sample.npz"))
    return out


class BuildWithModels(build_py):
    def run(self):
        super().run()
        dest = Path(self.build_lib) / "edge_digits" / "models"
        shipped = shipped_files()
        for src, rel in shipped:
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
        for src, rel in shipped:  # a manifest lists only what came with it, so bench finds no missing files
            if src.name == "manifest.json":
                target = dest / rel
                m = json.loads(src.read_text())
                m["artifacts"] = [a for a in m["artifacts"] if (target.parent / str(a.get("file"))).is_file()]
                target.write_text(json.dumps(m, indent=2) + "\n")


setup(cmdclass={"build_py": BuildWithModels})
