"""What the camera window shows: boxes, labels, confidences, readings, FPS and per-stage milliseconds, and
the debug view of the ink mask beside the 28x28 crops the classifier saw."""
from __future__ import annotations

import cv2
import numpy as np

from edge_digits.vision import pipeline as vision


def draw(frame: np.ndarray, result: vision.FrameResult, fps: float, ms: dict) -> np.ndarray:
    out = frame.copy()
    for d in result.digits:
        x, y, w, h = d.box
        cv2.rectangle(out, (x, y), (x + w, y + h), (0, 200, 0), 2)
        cv2.putText(out, f"{d.label} {d.confidence:.2f}", (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 140, 255), 1, cv2.LINE_AA)
    stages = " ".join(f"{k} {v:.1f}" for k, v in ms.items() if k != "total")
    lines = [f"{fps:5.1f} fps | ms {stages}", "readings: " + " ".join(result.readings)]
    for i, text in enumerate(lines):
        cv2.putText(out, text, (8, 20 + 20 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, text, (8, 20 + 20 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def debug_view(result: vision.FrameResult, height: int) -> np.ndarray:
    """The ink mask beside a column of the 28x28 crops the classifier saw."""
    mask = result.detections.mask
    mask = cv2.cvtColor(cv2.resize(mask, (round(mask.shape[1] * height / mask.shape[0]), height)), cv2.COLOR_GRAY2BGR)
    crops = result.normalized if result.normalized is not None and len(result.normalized) else np.zeros((1, 28, 28), np.uint8)
    per_col = max(1, height // 56)
    cols = [np.vstack(list(crops[i:i + per_col]) + [np.zeros((28 * (per_col - len(crops[i:i + per_col])), 28), np.uint8)])
            for i in range(0, len(crops), per_col)]
    tile = cv2.resize(np.hstack(cols), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    tile = cv2.cvtColor(np.vstack([tile, np.zeros((height - tile.shape[0], tile.shape[1]), np.uint8)]), cv2.COLOR_GRAY2BGR)
    return np.hstack([mask, tile])
