"""The simple baseline: the ten-line Otsu-and-contours pipeline (as in MNIST-Live-Detection-TFLite).
Returns candidate digit boxes; the caller classifies them. numpy + cv2."""
from __future__ import annotations

import cv2
import numpy as np


def detect(image: np.ndarray, min_h: int = 10, max_h_frac: float = 0.8) -> list[tuple[int, int, int, int]]:
    """Grey, Gaussian blur, Otsu inverse threshold, external contours, boxes of plausible size/aspect."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    grey = cv2.GaussianBlur(grey, (5, 5), 0)
    _, bw = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    contours, _ = cv2.findContours(bw, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    H = image.shape[0]
    boxes = []
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        if min_h <= h <= max_h_frac * H and 0.1 <= w / h <= 1.5:  # digits are taller than wide, mostly
            boxes.append((x, y, w, h))
    return sorted(boxes, key=lambda b: (b[1], b[0]))


def crop28(image: np.ndarray, box) -> np.ndarray:
    """The MNIST-style input for a box: ink bright on black, fitted into 20x20 and centred in 28x28."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    x, y, w, h = box
    roi = 255 - grey[y: y + h, x: x + w]
    roi = cv2.normalize(roi, None, 0, 255, cv2.NORM_MINMAX)
    s = 20 / max(w, h)
    roi = cv2.resize(roi, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    out = np.zeros((28, 28), np.uint8)
    oy, ox = (28 - roi.shape[0]) // 2, (28 - roi.shape[1]) // 2
    out[oy: oy + roi.shape[0], ox: ox + roi.shape[1]] = roi
    return out


def group_numbers(boxes, labels, gap: float = 0.6) -> list[tuple[str, tuple[int, int, int, int], list[int]]]:
    """Digits side by side become one number: same line (vertical overlap over half the smaller height)
    and a horizontal gap under `gap` digit heights. Returns (text, box, digit indices) left to right."""
    order = sorted(range(len(boxes)), key=lambda i: boxes[i][0])
    groups: list[list[int]] = []
    for i in order:
        x, y, w, h = boxes[i]
        for g in groups:
            lx, ly, lw, lh = boxes[g[-1]]
            overlap = min(y + h, ly + lh) - max(y, ly)
            if overlap > 0.5 * min(h, lh) and x - (lx + lw) < gap * max(h, lh):
                g.append(i)
                break
        else:
            groups.append([i])
    out = []
    for g in groups:
        b = np.array([boxes[i] for i in g])
        x0, y0 = b[:, :2].min(0)
        x1, y1 = (b[:, :2] + b[:, 2:]).max(0)
        out.append(("".join(str(int(labels[i])) for i in g), (int(x0), int(y0), int(x1 - x0), int(y1 - y0)), g))
    return out
