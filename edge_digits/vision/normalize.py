"""MNIST-style normalization of one digit crop: what the classifier was trained on."""
from __future__ import annotations

import cv2
import numpy as np

K3 = np.ones((3, 3), np.uint8)  # the 3x3 square that measures the stroke
STROKE_TARGET = 4.0  # stroke width of MNIST digits at the 40 px working scale of normalize_crop (median)
# the most the stroke is thinned or thickened a side, at that scale: a marker's stroke (a fifth of the digit)
# is 8 px there. A crop solid with ink (a shadow or a dark desk in a box that is no digit) has next to no
# edge, and its measured width asked for an erosion thousands of px wide: 0.8 s for one crop
MAX_STROKE_FIX = 6
BOX, CANVAS = 20, 28  # MNIST: each digit fit into 20x20, centred by mass in 28x28


def normalize_crop(ink: np.ndarray, stroke: bool = True) -> np.ndarray:
    """One digit (ink high, any size, binary or grey) -> 28x28 uint8 the way MNIST was made: fit into
    20x20 keeping the aspect ratio, area-interpolated, centre of mass at the centre of 28x28. With
    stroke=True a thick marker and a fine pen are first brought to MNIST's stroke width."""
    x, y, w, h = cv2.boundingRect(cv2.compare(ink, 64, cv2.CMP_GT))  # a third of np.nonzero's time
    out = np.zeros((CANVAS, CANVAS), np.uint8)
    if w == 0:
        return out
    c = ink[y: y + h, x: x + w]
    h, w = c.shape
    if stroke:
        # measure and correct the stroke at twice the box size, where a 3x3 kernel changes it by a
        # quarter of MNIST's; grey levels go through the same erosion or dilation
        s = 2 * BOX / max(h, w)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        c = cv2.resize(c, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        b = cv2.compare(c, 127, cv2.CMP_GT)
        area = cv2.countNonZero(b)
        edge = area - cv2.countNonZero(cv2.erode(b, K3))
        width = 2.0 * area / max(edge, 1)
        d = max(-MAX_STROKE_FIX, min(MAX_STROKE_FIX, round((width - STROKE_TARGET) / 2)))  # per crop: no numpy call
        if d:
            k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(d) + 1, 2 * abs(d) + 1))
            if d < 0:
                c = cv2.dilate(c, k)
            else:
                thinner = cv2.erode(c, k)
                if cv2.countNonZero(cv2.compare(thinner, 127, cv2.CMP_GT)) > 0.25 * area:  # never erode a digit away
                    c = thinner
        h, w = c.shape
    s = BOX / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    small = cv2.resize(c, size, interpolation=cv2.INTER_AREA)
    m = cv2.moments(small)
    if m["m00"] <= 0:
        return out
    cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
    ox, oy = int(round(CANVAS / 2 - cx)), int(round(CANVAS / 2 - cy))
    sh, sw = small.shape
    # clip: a lopsided digit's mass centre can push its far edge past the canvas, as in MNIST
    x0, y0 = max(ox, 0), max(oy, 0)
    x1, y1 = min(ox + sw, CANVAS), min(oy + sh, CANVAS)
    out[y0:y1, x0:x1] = small[y0 - oy: y1 - oy, x0 - ox: x1 - ox]
    return out
