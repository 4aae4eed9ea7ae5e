"""Small hand-made scenes for the detection and vision tests: paper, and MNIST digits drawn on it as ink."""
import cv2
import numpy as np


def paper(h=240, w=320, level=225):
    return np.full((h, w, 3), level, np.uint8)


def draw_digit(img, digit, x, y, height, ink=20):
    """An MNIST digit as dark ink, `height` pixels tall, top-left at (x, y); returns its box."""
    ys, xs = np.nonzero(digit > 40)
    c = digit[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1].astype(np.float32) / 255
    s = height / c.shape[0]
    a = cv2.resize(c, (max(1, round(c.shape[1] * s)), height), interpolation=cv2.INTER_LINEAR)
    region = img[y: y + a.shape[0], x: x + a.shape[1]]
    a = a[: region.shape[0], : region.shape[1], None]  # clipped by the frame edge
    region[:] = (region * (1 - a) + ink * a).astype(np.uint8)
    return x, y, a.shape[1], a.shape[0]
