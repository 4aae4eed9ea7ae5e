"""edge-digits: handwritten digits from training to the edge.

Thin Typer app: options -> config -> one library call -> summary. Heavy modules (TensorFlow, ONNX Runtime,
OpenCV) are imported inside the commands so `--help` and `--version` start fast.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import __version__
from .config import Arch, Dataset, EdgeDigitsError, ExportConfig, Format, Optimizer, Runtime, TrainConfig

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Handwritten-digit recognition from training to the edge: train, export, camera, bench.")


def fail(msg: str, code: int = 2) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def _version(value: bool):
    if value:
        typer.echo(f"edge-digits {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False):
    """Handwritten-digit recognition from training to the edge."""


def _parse_list(text: str, enum, what: str) -> list:
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            out.append(enum(part))
        except ValueError:
            fail(f"unknown {what} '{part}' (choose from {', '.join(e.value for e in enum)})")
    return out


@app.command()
def train(
    arch: Annotated[Arch, typer.Option(help="Model architecture.")] = Arch.edge,
    dataset: Annotated[Dataset, typer.Option(help="mnist (full), sample (bundled, offline) or sklearn-digits.")] = Dataset.mnist,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs (default: the recipe's).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Batch size (default: the recipe's).")] = None,
    optimizer: Annotated[Optional[str], typer.Option(
        help="sgd, rmsprop, adam, adagrad or adadelta; several, comma-separated, train one model each and compare.")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate (default: the recipe's).")] = None,
    augment: Annotated[Optional[bool], typer.Option("--augment/--no-augment", help="Augmentation (default: on for edge).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same model.")] = 0,
    data: Annotated[Optional[Path], typer.Option(help="MNIST .npz (Keras layout) or a folder of IDX files.")] = None,
    out: Annotated[Path, typer.Option(help="Run folder to create.")] = Path("runs/train"),
    force: Annotated[bool, typer.Option(help="Replace an existing run folder.")] = False,
):
    """Train a model on MNIST and write a run folder: model.keras, metrics.json and plots."""
    opts = _parse_list(optimizer, Optimizer, "optimizer") if optimizer else []
    cfg = TrainConfig(arch=arch, dataset=dataset, epochs=epochs, batch_size=batch_size, optimizers=opts, lr=lr,
                      augment=augment, seed=seed, data=data, out=out, force=force)
    try:
        from .train import train as run_train

        results = run_train(cfg)
    except EdgeDigitsError as e:
        fail(str(e))
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"edge-digits train: {arch.value}")
    for col in ("run", "optimizer", "test accuracy", "test loss", "parameters", "FLOPs/digit", "epochs", "seconds"):
        t.add_column(col)
    for r in results:
        m = r.metrics
        t.add_row(str(r.out), m["optimizer"], f"{m['accuracy'] * 100:.2f}%", f"{m['loss']:.4f}",
                  f"{m['parameters']:,}", f"{m['flops_per_digit']:,}", str(m["epochs_run"]), f"{m['train_seconds']:.0f}")
    Console(stderr=True).print(t)


@app.command()
def evaluate(
    model: Annotated[Path, typer.Argument(help="A saved .keras model (or a run folder).")],
    dataset: Annotated[Dataset, typer.Option(help="Test split to use.")] = Dataset.mnist,
    data: Annotated[Optional[Path], typer.Option(help="MNIST .npz or IDX folder.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
):
    """Report test accuracy, loss, per-class precision/recall and the confusion matrix of a saved model."""
    if model.is_dir():
        model = model / "model.keras"
    try:
        from .train import evaluate as run_eval

        m = run_eval(model, dataset, data)
    except EdgeDigitsError as e:
        fail(str(e))
    if json_out:
        typer.echo(json.dumps(m, indent=2))
        return
    typer.echo(f"{m['model']}: accuracy {m['accuracy'] * 100:.2f}% ({m['errors']} errors of {m['n']}, "
               f"{m['eval_set']} test set), loss {m['loss']:.4f}, {m['parameters']:,} parameters")
    for c, pc in m["per_class"].items():
        typer.echo(f"  {c}: precision {pc['precision']:.4f} recall {pc['recall']:.4f} (n={pc['support']})")


# ---- export (issue 3) ----
@app.command()
def export(
    source: Annotated[Path, typer.Argument(help="A trained .keras model or a run folder from `train`.")],
    int8: Annotated[bool, typer.Option("--int8", help="Also write full-integer int8 models (calibrated).")] = False,
    fp16: Annotated[bool, typer.Option("--fp16", help="Also write a float16 TFLite model.")] = False,
    format: Annotated[str, typer.Option("--format", help="Comma-separated formats: tflite, onnx.")] = "tflite,onnx",
    calib_samples: Annotated[int, typer.Option(help="Training images used to calibrate int8.")] = 500,
    max_drop: Annotated[float, typer.Option(help="Fail when an artifact loses more accuracy points than this.")] = 0.1,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default: SOURCE_RUN/export).")] = None,
    data: Annotated[Optional[Path], typer.Option(help="MNIST .npz or IDX folder for calibration and checks.")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing export in the output folder.")] = False,
):
    """Quantize and export to TFLite and ONNX; verify every file through its own runtime and write manifest.json."""
    formats = _parse_list(format, Format, "format")
    if Format.keras in formats or not formats:
        fail("--format takes tflite and/or onnx (the Keras source is always copied)")
    run = source if source.is_dir() else source.parent
    cfg = ExportConfig(source=source, out=out or run / "export", formats=formats, int8=int8, fp16=fp16,
                       calib_samples=calib_samples, max_drop=max_drop, data=data, force=force)
    try:
        from .export import export as run_export

        entries, manifest = run_export(cfg)
    except EdgeDigitsError as e:
        fail(str(e))
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"edge-digits export -> {cfg.out}")
    for col in ("file", "format", "precision", "size", "accuracy", "agreement", "max |dp|", "seconds"):
        t.add_column(col)
    for e in entries:
        t.add_row(e["file"], e["format"], e["precision"], f"{e['size_bytes'] / 1024:.1f} KB",
                  f"{e['accuracy'] * 100:.2f}% ({e['eval_set']['kind']})", f"{e['agreement_with_keras'] * 100:.2f}%",
                  f"{e['max_prob_diff']:.4f}", f"{e['convert_seconds']:.1f}")
    con = Console(stderr=True)
    con.print(t)
    best = next((e["file"] for e in entries if e["precision"] == "int8" and e["format"] == "tflite"), entries[-1]["file"])
    con.print(f"manifest: {manifest}\nnext:\n  edge-digits camera --model {cfg.out / best}\n"
              f"  edge-digits predict --model {cfg.out / best} IMAGE\n  edge-digits bench --manifest {manifest}")



# ---- camera and predict (issue 4) ----


# ---- bench (issue 5) ----


if __name__ == "__main__":
    app()
