"""`predict`: the digits and numbers of still images, one result per file."""
from __future__ import annotations

from edge_digits.app import images
from edge_digits.config import EdgeDigitsError
from edge_digits.vision import pipeline as vision


def predict(items: list[str], runner, min_confidence: float = vision.MIN_CONFIDENCE,
            max_pixels: int = images.MAX_PIXELS, boxfit=None, detector=None) -> list[dict]:
    """One dict per image: path, digits, readings, or path and error. A 28x28 image is taken as an
    MNIST-style digit and classified as it is."""
    results = []
    for label, path in images.expand(items):
        if path is None:
            results.append({"path": label, "error": f"{label}: no such file, folder or matching glob"})
            continue
        try:
            img = images.read_image(path, max_pixels)
        except EdgeDigitsError as e:
            results.append({"path": label, "error": str(e)})
            continue
        if img.shape[:2] == (28, 28):
            res = vision.classify_mnist_image(img, runner)
        else:
            res = vision.read_frame(img, runner, min_confidence=min_confidence, boxfit=boxfit, detector=detector)
        results.append({"path": label, **res.to_json()})
    return results
