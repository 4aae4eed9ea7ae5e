"""Training digits as the camera sees them: MNIST training digits laid out on photo-like pages
(edge_digits.synth), found and cut out by the camera pipeline (edge_digits.vision) and normalized as the
classifier gets them. What the pipeline leaves of a digit is not what MNIST shows: a 15 px digit upscaled
from a blur, the remains of a ruled line, a stroke the threshold thinned. A model that has seen these reads
them far better (benchmarks/camera.md)."""
from __future__ import annotations

import numpy as np

from . import synth, vision


def camera_crops(x: np.ndarray, y: np.ndarray, pages: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 crops and their labels: every digit of `pages` pages built from x, y that the
    detector finds (IoU >= 0.5 with the true box), normalized exactly as the camera does."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(pages):
        p = synth.make_page(x, y, rng)
        det = vision.find_digits(p.image)
        for box, label in zip(p.boxes, p.labels):
            best = max(((vision.iou(box, b), j) for j, b in enumerate(det.boxes)), default=(0.0, -1))
            if best[0] >= 0.5:
                xs.append(vision.normalize_crop(det.crops[best[1]]))
                ys.append(label)
    return np.array(xs, np.uint8).reshape(-1, vision.CANVAS, vision.CANVAS), np.array(ys, np.uint8)
