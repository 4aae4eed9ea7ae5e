"""`predict`: the digits and numbers of still images, one result per file."""
from __future__ import annotations

from edge_digits.app import images
from edge_digits.config import EdgeDigitsError
from edge_digits.vision import pipeline as vision


def predict(items: list[str], runner, min_confidence: float | None = None,
            max_pixels: int = images.MAX_PIXELS, boxfit=None, detector=None, on_result=None) -> list[dict]:
    """One dict per image: path, digits, readings, or path and error. A 28x28 image is taken as an
    MNIST-style digit and classified as it is. on_result(dict) is called as each image is done (the CLI
    prints and flushes it there, so a long folder streams and an interrupt keeps what was done)."""
    results = _Results(on_result)
    for label, path in images.expand(items):
        if path is None:
            results.append({"path": label, "error": f"{label}: no such file, folder or matching glob"})
            continue
        k = 1
        if detector is not None and detector.tiles:  # a big photo decoded at half size when the tiles lose nothing
            from edge_digits.vision.tiles import reduction

            dims = images.header_size(path)
            k = reduction(dims, detector.in_size) if dims else 1
        try:
            img = images.read_image(path, max_pixels, grey=detector is not None, reduce=k)  # the learned path reads grey
        except EdgeDigitsError as e:
            results.append({"path": label, "error": str(e)})
            continue
        if img.shape[:2] == (28, 28):
            res = vision.classify_mnist_image(img, runner)
        else:
            res = vision.read_frame(img, runner, min_confidence=min_confidence, boxfit=boxfit, detector=detector)
            res = res.scaled(k) if k > 1 else res
        results.append({"path": label, **res.to_json()})
    return list(results)


class _Results(list):
    def __init__(self, on_result):
        super().__init__()
        self.on_result = on_result

    def append(self, r: dict) -> None:
        super().append(r)
        if self.on_result:
            self.on_result(r)
