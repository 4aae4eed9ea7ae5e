"""Evaluation: a saved model on a test set through its own runtime, and the digit reader over pages."""
from __future__ import annotations

from pathlib import Path

from edge_digits.config import Dataset, EdgeDigitsError
from edge_digits.data.mnist import load_dataset
from edge_digits.data.synth import score
from edge_digits.runtime.base import predict_all
from edge_digits.training import reports


def evaluate(model_path: Path, dataset: Dataset = Dataset.mnist, data: Path | None = None,
             strict: bool = False) -> dict:
    """Metrics of any saved model (.keras, .tflite, .onnx) on the test split, through its own runtime; only a
    .keras file loads TensorFlow."""
    from edge_digits import runtime as runtimes
    from edge_digits.data.mnist import load_eval_set

    runner = runtimes.load(model_path, strict=strict)
    if runner.size == 8 and dataset != Dataset.sklearn_digits:
        raise EdgeDigitsError(f"{model_path}: an 8x8 model (digits8x8) reads the sklearn digits, not "
                              f"{dataset.value}: use --dataset sklearn-digits")
    if runner.size != 8 and dataset == Dataset.sklearn_digits:
        raise EdgeDigitsError(f"{model_path}: a {runner.size}x{runner.size} model cannot read the 8x8 sklearn digits; "
                              "--dataset sklearn-digits goes with a digits8x8 model")
    if dataset == Dataset.sklearn_digits:
        d = load_dataset(Dataset.sklearn_digits)
    elif dataset == Dataset.sample:
        d = load_dataset(Dataset.sample)
    else:
        d = load_eval_set(data)
    probs = predict_all(runner.predict, d.x_test)
    m = reports.classification_metrics(d.y_test, probs)
    params = runner.model.count_params() if hasattr(runner, "model") else (runner.entry or {}).get(
        "source", {}).get("parameters")
    m.update({"model": str(model_path), "runtime": runner.describe(), "eval_set": d.eval_set, "data": d.source,
              "parameters": params})
    return m


def read(pages: list, runner, **kw) -> tuple[list, list]:
    """Run the digit reader over pages: (truth, found) per page, as score() takes them."""
    from edge_digits.vision.pipeline import read_frame

    truth, found = [], []
    for p in pages:
        res = read_frame(p.image, runner, **kw)
        truth.append((p.boxes, p.labels, p.readings, p.ignore))
        found.append(([d.box for d in res.digits], [d.label for d in res.digits], res.readings))
    return truth, found


def read_pages(pages: list, runner, **kw) -> dict:
    """Run the digit reader over pages and score it against their ground truth."""
    return score(*read(pages, runner, **kw))
