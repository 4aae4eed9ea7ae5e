"""edge-digits: handwritten digits from training to the edge.

Thin Typer app: options -> config -> one library call -> summary. Heavy modules (TensorFlow, ONNX Runtime,
OpenCV) are imported inside the commands so `--help` and `--version` start fast.
"""
from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from edge_digits import __version__, summaries
from edge_digits.config import (MIN_CONFIDENCE, Arch, Dataset, Detector, EdgeDigitsError, ExportConfig, Format,
                                Optimizer, Runtime, TrainConfig, camera_model, check_number, check_threads,
                                training_tools_missing)

# Plain help (rich_markup_mode=None): flags as flags, not `--int8 <bool>`, and text wrapped at words.
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Handwritten-digit recognition from training to the edge: train, export, camera, bench.")


BOXFIT_HELP = ("With --detector rules: grow each digit's box to the whole digit with the shipped box-fit net "
               "(export/boxfit; runs on LiteRT whatever --runtime says).")
TILES_HELP = ("Learned detector: also read each image in overlapping tiles at 2x and 4x the scale (small "
              "digits in a big photo; at most 10-35 net runs an image, fewer over blank paper); --no-tiles reads it in one pass, as the camera does.")
TILES_DEFAULT = True  # predict: still photos can afford the tiles (benchmarks/camera.md: more found, read right)
CAMERA_TILES_HELP = ("Learned detector: also read each frame in overlapping tiles at 2x and 4x the scale: more "
                     "small digits (a page far from the camera) at several times the cost a frame; --no-tiles: one "
                     "pass always. Default: a frame bigger than 640x480 (an HD webcam's) is also read in tiles at 2x, "
                     "so its digits are seen as big as a 640x480 frame's, and a smaller frame in at most two tiles at "
                     "2x where it holds small digits.")
MIN_CONFIDENCE_HELP = ("Drop digits the classifier is less sure of than this (default: with the learned detector its "
                       f"accept model alone decides; with --detector rules {MIN_CONFIDENCE}).")
DETECTOR_HELP = ("learned: the shipped detector net (export/detector), which also links the digits of a number; "
                 "rules: the hand-tuned detector, kept as a baseline.")
CAMERA_MODEL_HELP = ("Model file or folder (default: the shipped camera model, export/camera/edge-cam_int8.tflite, "
                     "trained on MNIST plus digits as the camera crops them).")
STRICT_HELP = "Refuse a model whose sha256 differs from its manifest (default: warn)."


def fail(msg: str, code: int = 2) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def guarded(what: str = ""):
    """The body of a command: SIGTERM handled as Ctrl-C; EdgeDigitsError -> one line, exit 2; a missing
    module of the train extra -> one line naming the install, exit 2; Ctrl-C -> 'interrupted', exit 130
    (what was finished is kept by the library's own atomic writes)."""
    from edge_digits.core.signals import sigterm_as_interrupt

    try:
        with sigterm_as_interrupt():
            yield
    except EdgeDigitsError as e:
        fail(str(e))
    except ModuleNotFoundError as e:
        if msg := training_tools_missing(e):
            fail(f"{what} {msg}".strip())
        raise
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None


def _version(value: bool):
    if value:
        typer.echo(f"edge-digits {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False):
    """Handwritten-digit recognition from training to the edge."""


def _detector(kind: Detector, path: Optional[Path], box_fit: bool, tiles: Optional[bool] = False):
    """(learned detector or None, box-fit runner or None) for camera and predict; both run on one thread.
    tiles None: vision.detector.AUTO (tiles at 2x for frames bigger than 640x480, near small digits for others)."""
    if kind == Detector.learned:
        from edge_digits.vision.detector import AUTO, load_detector

        return load_detector(path, threads=1, tiles=AUTO if tiles is None else tiles), None
    from edge_digits.vision.rules import boxfit

    return None, boxfit.load() if box_fit else None


def _opencv_threads(runtime, threads: int) -> None:
    """The camera and predict processes' OpenCV thread pool, set here where the CLI starts (a library call
    changes no process-wide state). Each OpenCV call on a frame takes a tenth of a millisecond or less:
    handing it to a second thread costs about what it saves, and on a busy machine it waits for a core. One
    thread gives the steadier p99 and leaves the other core to the runtime; cv2.dnn as the runtime gets
    --threads."""
    import cv2

    cv2.setNumThreads(threads if runtime == Runtime.opencv else 1)


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
    camera_pages: Annotated[Optional[int], typer.Option(
        help="Photo-like pages of training digits, cut out by the camera pipeline, added to the training set "
             "(default: the recipe's: 8000 for edge-cam, else 0).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same model.")] = 0,
    init: Annotated[Optional[Path], typer.Option(
        help="detector: fine-tune, starting from this model.keras (e.g. export/detector/detector.keras); "
             "--seed picks other training pages.")] = None,
    focus: Annotated[Optional[str], typer.Option(help="detector: force a page condition on a share of the training "
                                                      "pages, e.g. pen=pencil:0.33 (the hardest pen, a third more often).")] = None,
    data: Annotated[Optional[Path], typer.Option(help="MNIST .npz (Keras layout) or a folder of IDX files.")] = None,
    usps: Annotated[Optional[Path], typer.Option(
        help="USPS .npz (x_train, y_train, x_test, y_test) for edge-cam and detector (default: $EDGE_DIGITS_USPS).")] = None,
    out: Annotated[Path, typer.Option(help="Run folder to create.")] = Path("runs/train"),
    force: Annotated[bool, typer.Option(help="Replace an existing run folder.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object on stdout.")] = False,
):
    """Train a model into a run folder: model.keras, metrics, plots."""
    opts = _parse_list(optimizer, Optimizer, "optimizer") if optimizer else []
    cfg = TrainConfig(arch=arch, dataset=dataset, epochs=epochs, batch_size=batch_size, optimizers=opts, lr=lr,
                      augment=augment, camera_pages=camera_pages, seed=seed, data=data, usps=usps, out=out,
                      force=force, init=init, focus=focus)
    with guarded("train"):
        check_number("--lr", lr, 0, 10, lo_open=True)
        from edge_digits.training.train import train as run_train

        results = run_train(cfg)
    if json_out:
        keep = "optimizer accuracy loss n parameters flops_per_digit epochs_run train_seconds interrupted seed".split()
        runs = [{"run": str(r.out), **{k: r.metrics.get(k) for k in keep}} for r in results]
        return typer.echo(json.dumps({"arch": arch.value, "eval_set": (results[0].metrics.get("data") or {}).get("eval_set"),
                                      "runs": runs}))
    summaries.train(arch, results)


@app.command()
def evaluate(
    model: Annotated[Optional[Path], typer.Argument(
        help="A .keras, .tflite or .onnx model, or a run/export folder (default: the shipped int8 model).",
        metavar="MODEL", show_default=False)] = None,
    dataset: Annotated[Dataset, typer.Option(help="Test split to use.")] = Dataset.mnist,
    data: Annotated[Optional[Path], typer.Option(help="MNIST .npz or IDX folder.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help=STRICT_HELP)] = False,
):
    """Test accuracy of a saved model.

    Accuracy, loss, per-class precision/recall and confusion matrix, each format through its own runtime."""
    from edge_digits.config import default_model

    with guarded("evaluate on this model"):
        from edge_digits.training.evaluate import evaluate as run_eval

        m = run_eval(model or default_model(), dataset, data, strict=strict)
    if json_out:
        typer.echo(json.dumps(m, indent=2))
        return
    params = f", {m['parameters']:,} parameters" if m["parameters"] else ""
    typer.echo(f"{m['runtime']}: accuracy {m['accuracy'] * 100:.2f}% ({m['errors']} errors of {m['n']}, "
               f"{m['eval_set']} test set), loss {m['loss']:.4f}{params}")
    for c, pc in m["per_class"].items():
        typer.echo(f"  {c}: precision {pc['precision']:.4f} recall {pc['recall']:.4f} (n={pc['support']})")


# ---- export (issue 3) ----
@app.command()
def export(
    source: Annotated[Path, typer.Argument(help="A trained .keras model or a run folder from `train`.",
                                           metavar="SOURCE")],
    int8: Annotated[bool, typer.Option("--int8", help="Also write full-integer int8 models (calibrated).")] = False,
    fp16: Annotated[bool, typer.Option("--fp16", help="Also write a float16 TFLite model.")] = False,
    format: Annotated[str, typer.Option("--format", help="Comma-separated formats: tflite, onnx.")] = "tflite,onnx",
    formats_alias: Annotated[Optional[str], typer.Option("--formats", hidden=True)] = None,
    calib_samples: Annotated[int, typer.Option(help="Training images used to calibrate int8.")] = 500,
    imgsz: Annotated[Optional[str], typer.Option(
        help="Detector only: the input WxH of the files (multiples of 16; the net is fully convolutional), "
             "e.g. 448x336; default: the size it was trained at.", show_default=False)] = None,
    max_drop: Annotated[float, typer.Option(help="Fail when an artifact loses more accuracy points than this.")] = 0.1,
    min_accuracy: Annotated[float, typer.Option(
        help="Fail when an artifact's test accuracy (0..1) is below this: the model did not learn.")] = 0.5,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default: SOURCE_RUN/export).")] = None,
    data: Annotated[Optional[Path], typer.Option(help="MNIST .npz or IDX folder for calibration and checks.")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing export in the output folder.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object on stdout.")] = False,
):
    """Quantize and export to TFLite and ONNX, each file verified."""
    formats = _parse_list(formats_alias or format, Format, "format")
    if Format.keras in formats or not formats:
        fail("--format takes tflite and/or onnx (the Keras source is always copied)")
    run = source if source.is_dir() else source.parent
    cfg = ExportConfig(source=source, out=out or run / "export", formats=formats, int8=int8, fp16=fp16,
                       calib_samples=calib_samples, imgsz=imgsz, max_drop=max_drop, min_accuracy=min_accuracy,
                       data=data, force=force)
    with guarded("export"):
        check_number("--max-drop", max_drop, 0, 100)
        from edge_digits.exporters.export import export as run_export

        entries, manifest = run_export(cfg)
    if json_out:
        keep = ("file format precision size_bytes sha256 accuracy keras_accuracy agreement_with_keras max_prob_diff "
                "eval_set convert_seconds kind dev").split()
        arts = [{k: e.get(k) for k in keep if k in e} for e in entries]
        return typer.echo(json.dumps({"out": str(cfg.out), "manifest": str(manifest), "artifacts": arts}))
    summaries.export(cfg, entries, manifest)


@app.command()
def camera(
    source: Annotated[str, typer.Option(
        help="Webcam index, video file, image file, folder or glob of images, or a stream URL.")] = "0",
    model: Annotated[Optional[Path], typer.Option(help=CAMERA_MODEL_HELP)] = None,
    runtime: Annotated[Optional[Runtime], typer.Option(help="Runtime (default: the natural one for the model).")] = None,
    threads: Annotated[int, typer.Option(help="Runtime threads; a frame's digits are one small batch, so 1.")] = 1,
    headless: Annotated[bool, typer.Option(help="No window (servers, CI, a Pi without a screen).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per frame on stdout, nothing else.")] = False,
    record: Annotated[Optional[Path], typer.Option(help="Write the annotated video here (.mp4 or .avi).")] = None,
    min_confidence: Annotated[Optional[float], typer.Option(help=MIN_CONFIDENCE_HELP, show_default=False)] = None,
    max_frames: Annotated[Optional[int], typer.Option(help="Stop after this many frames.")] = None,
    smooth: Annotated[bool, typer.Option("--smooth/--no-smooth", help="Track digits across video frames and smooth labels.")] = True,
    detector: Annotated[Detector, typer.Option(help=DETECTOR_HELP)] = Detector.learned,
    detector_model: Annotated[Optional[Path], typer.Option(
        help="The detector file (default: export/detector/detector_fp16.tflite).")] = None,
    box_fit: Annotated[bool, typer.Option("--box-fit/--no-box-fit", help=BOXFIT_HELP)] = True,
    tiles: Annotated[Optional[bool], typer.Option("--tiles/--no-tiles", help=CAMERA_TILES_HELP, show_default=False)] = None,
    strict: Annotated[bool, typer.Option("--strict", help=STRICT_HELP)] = False,
    realtime: Annotated[Optional[bool], typer.Option(
        "--realtime/--as-fast-as-possible",
        help="Play a video file at its own frame rate, or read it as fast as it is processed "
             "(default: realtime in a window, as fast as possible headless).")] = None,
    snapshot_dir: Annotated[Optional[Path], typer.Option(
        help="Folder for the snapshots of the s key (default: snapshots/<start time>/, made on the first).")] = None,
):
    """Read digits live from a camera, video, stream or images.

    Keys: q (or the close button) quit, space pause, s snapshot, d debug view; still images wait for a key.
    Headless, each frame's readings go to stdout (a line of text, or JSON with --json); the summary to stderr."""
    with guarded():
        check_number("--min-confidence", min_confidence, 0, 1)
        check_threads(threads)
        if max_frames is not None and max_frames <= 0:
            raise EdgeDigitsError(f"--max-frames must be > 0, got {max_frames}")
        from edge_digits import runtime as runtimes
        from edge_digits.app import camera as cam
        from edge_digits.app.sources import Source

        if record is not None:
            cam.check_record(record)
        src = Source(source)
        runner = runtimes.load(model, runtime, threads, strict=strict, default=camera_model())
        finder, fitter = _detector(detector, detector_model, box_fit, tiles)
        _opencv_threads(runtime, threads)
        summary = cam.run(src, runner, headless=headless, json_out=json_out, record=record,
                          min_confidence=min_confidence, max_frames=max_frames, smooth=smooth, boxfit=fitter,
                          detector=finder,
                          realtime=realtime, snapshot_dir=snapshot_dir)
    if summary.interrupted:
        raise typer.Exit(130)
    if summary.lost or summary.unreadable:
        raise typer.Exit(1)


@app.command()
def predict(
    images: Annotated[list[str], typer.Argument(help="Image files, folders or globs.", metavar="IMAGE...")],
    model: Annotated[Optional[Path], typer.Option(help=CAMERA_MODEL_HELP)] = None,
    runtime: Annotated[Optional[Runtime], typer.Option(help="Runtime (default: the natural one for the model).")] = None,
    threads: Annotated[int, typer.Option(help="Runtime threads; a frame's digits are one small batch, so 1.")] = 1,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per image on stdout.")] = False,
    min_confidence: Annotated[Optional[float], typer.Option(help=MIN_CONFIDENCE_HELP, show_default=False)] = None,
    detector: Annotated[Detector, typer.Option(help=DETECTOR_HELP)] = Detector.learned,
    detector_model: Annotated[Optional[Path], typer.Option(
        help="The detector file (default: export/detector/detector_fp16.tflite).")] = None,
    box_fit: Annotated[bool, typer.Option("--box-fit/--no-box-fit", help=BOXFIT_HELP)] = True,
    tiles: Annotated[bool, typer.Option("--tiles/--no-tiles", help=TILES_HELP)] = TILES_DEFAULT,
    strict: Annotated[bool, typer.Option("--strict", help=STRICT_HELP)] = False,
):
    """Find and read the digits in still images.

    A 28x28 image is classified as an MNIST digit as it is. Exit code 1 when a file could not be read."""
    failed = []

    def show(r: dict) -> None:  # as each image is done: a long folder streams, and Ctrl-C keeps what was printed
        if "error" in r:
            failed.append(r)
            typer.echo(f"error: {r['error']}", err=True)
        if json_out:
            sys.stdout.write(json.dumps(r) + "\n")
        elif "error" not in r:
            found = ", ".join(f"{d['label']} ({d['confidence']:.2f})" for d in r["digits"]) or "no digits"
            sys.stdout.write(f"{r['path']}: {' '.join(r['readings']) or '-'}  [{found}]\n")
        sys.stdout.flush()

    with guarded():
        check_number("--min-confidence", min_confidence, 0, 1)
        check_threads(threads)
        from edge_digits import runtime as runtimes
        from edge_digits.app import stills

        runner = runtimes.load(model, runtime, threads, strict=strict, default=camera_model())
        _opencv_threads(runtime, threads)
        finder, fitter = _detector(detector, detector_model, box_fit, tiles)
        stills.predict(images, runner, min_confidence=min_confidence, boxfit=fitter, detector=finder, on_result=show)
    if failed:
        raise typer.Exit(1)


# ---- bench (issue 5) ----
@app.command()
def bench(
    model: Annotated[Optional[Path], typer.Argument(
        help="One .tflite or .onnx file to bench alone, or a manifest/export folder (default: the shipped models).",
        metavar="MODEL", show_default=False)] = None,
    manifest: Annotated[Optional[Path], typer.Option(help="Manifest file or export folder (default: the shipped export/).")] = None,
    formats: Annotated[Optional[str], typer.Option("--format", help="Only these formats, comma-separated: tflite, onnx, keras.")] = None,
    formats_alias: Annotated[Optional[str], typer.Option("--formats", hidden=True)] = None,
    precisions: Annotated[Optional[str], typer.Option(help="Only these precisions: fp32, fp16, int8.")] = None,
    runtimes: Annotated[Optional[str], typer.Option(help="Only these runtimes: litert, onnxruntime, opencv, keras.")] = None,
    providers: Annotated[Optional[str], typer.Option(
        help="ONNX Runtime providers, e.g. cpu,cuda,tensorrt (default: CPU, CUDA, TensorRT and any installed).")] = None,
    threads: Annotated[Optional[str], typer.Option(help="Thread counts, e.g. 1,all (default: 1 and all cores).")] = None,
    batch: Annotated[Optional[str], typer.Option("--batch-size", help="Batch sizes, comma-separated (default: 1,8,64,256).")] = None,
    batch_alias: Annotated[Optional[str], typer.Option("--batch", hidden=True)] = None,
    quick: Annotated[bool, typer.Option("--quick", help="A few runs per row and accuracy on 500 digits: a smoke test, not results.")] = False,
    warmup: Annotated[Optional[int], typer.Option(help="Warm-up calls per row (default 10).")] = None,
    min_runs: Annotated[Optional[int], typer.Option(help="Timed calls per row, at least (default 50).")] = None,
    min_time: Annotated[Optional[float], typer.Option(help="Seconds of timed calls per row, at least (default 1.0).")] = None,
    baseline: Annotated[Optional[Path], typer.Option(
        help="Keras mlp model for the model.predict baseline (default: runs/mlp/model.keras, else an untrained mlp).")] = None,
    no_baseline: Annotated[bool, typer.Option("--no-baseline", help="Skip the Keras model.predict baseline.")] = False,
    data: Annotated[Optional[Path], typer.Option(help="MNIST .npz or IDX folder for accuracy (default: $EDGE_DIGITS_DATA, else the bundled sample).")] = None,
    wide: Annotated[bool, typer.Option("--wide", help="Every column in the table (load time, p90/p99, memory, % of peak).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the results document (environment, rows) to stdout.")] = False,
    json_file: Annotated[Optional[Path], typer.Option(help="Write the results document to this file.")] = None,
    csv: Annotated[Optional[Path], typer.Option(help="Write the rows as CSV.")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Write latency-per-digit and throughput plots (PNG).")] = None,
    markdown: Annotated[Optional[Path], typer.Option(help="Write a BENCHMARKS.md-style page.")] = None,
    from_json: Annotated[Optional[Path], typer.Option(help="Re-render a saved --json-file instead of measuring.")] = None,
    note: Annotated[str, typer.Option(help="A remark kept in the results (with --from-json: replaces the saved one).")] = "",
    pipeline: Annotated[Optional[str], typer.Option(
        help="Also time the camera pipeline's stages (decode, detect, normalize, classify, draw) over this "
             "video, headless; 'synthetic' makes one from the bundled digits.")] = None,
    pipeline_only: Annotated[bool, typer.Option("--pipeline-only", help="With --pipeline: skip the model x runtime matrix.")] = False,
):
    """Benchmark models x runtimes x threads x batch sizes.

    Latency, throughput, memory, accuracy and % of the matmul peak, against Keras model.predict."""
    from edge_digits.bench import matrix as b
    from edge_digits.bench import report as bench_report
    from edge_digits.core.files import check_writable

    with guarded():
        for f in (json_file, csv, plot, markdown):
            if f is not None:
                check_writable(f)
        if from_json:
            doc = b.load_result(from_json, note or None)
        else:
            if model is not None and manifest is not None:
                raise EdgeDigitsError("give MODEL or --manifest, not both")
            cfg = b.config_from_options(manifest=manifest if model is None else model, formats=formats_alias or formats,
                                        precisions=precisions, runtimes=runtimes, providers=providers, threads=threads,
                                        batch=batch_alias or batch, quick=quick, warmup=warmup,
                                        min_runs=min_runs, min_time=min_time, baseline=not no_baseline,
                                        baseline_model=baseline, data=data, note=note, pipeline=pipeline,
                                        pipeline_only=pipeline_only)
            with bench_report.progress() as cb:
                doc = b.run(cfg, cb)
        bench_report.emit(doc, json_out, json_file, csv, plot, markdown, wide=wide)
    if not from_json and doc["summary"]["counts"].get("failed"):
        n = doc["summary"]["counts"]["failed"]
        typer.echo(f"error: {n} row{'s' if n > 1 else ''} failed (see the status column)", err=True)
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
