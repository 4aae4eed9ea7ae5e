"""Training digits as the camera sees them: handwritten training digits laid out on generated photo pages
(edge_digits.data.pages), found by the learned detector and cut out and normalized exactly as the camera
does (edge_digits.vision). What the camera leaves of a digit is not what MNIST shows: a 15 px digit
upscaled from a blur, a pencil stroke under a shadow, a box a little off. A model that has seen these reads
them far better (benchmarks/camera.md). box_windows makes the training data of the rules detector's box
fit (vision.rules.boxfit) from the old generator (data.synth)."""
from __future__ import annotations

import os

import numpy as np

from edge_digits.core.boxes import iou
from edge_digits.vision.rules import boxfit
from edge_digits.vision.rules import detect
from edge_digits.data import synth



NOT_A_DIGIT = 10  # the label of a crop that is no whole digit: train asks the model for no opinion on it
_WORK: dict = {}


def _init(sets, detector_path):
    from edge_digits.data.pages import DigitBank
    from edge_digits.vision.detector import load_detector

    _WORK["bank"] = DigitBank.from_arrays(*sets)
    _WORK["det"] = load_detector(detector_path, threads=1)


def _page_crops(seed: int):
    """The classifier's training crops of one generated page, cut exactly as the camera cuts them."""
    import cv2

    from edge_digits.core.boxes import iou_matrix
    from edge_digits.data.pages import make_page
    from edge_digits.vision.crops import classifier_batch

    p = make_page(_WORK["bank"], np.random.default_rng(seed))
    grey = cv2.cvtColor(p.image, cv2.COLOR_BGR2GRAY)
    det = _WORK["det"]
    det.tiles = seed % 2 == 1  # half the pages as `predict` reads photos, in tiles too (vision.tiles)
    found = det.find(grey)
    boxes = found.boxes
    if not len(boxes):
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8)
    crops = classifier_batch(grey, boxes, in_box=found.refined)
    m = iou_matrix(boxes, np.concatenate([p.boxes, p.ignore]).reshape(-1, 4))
    xs, ys = [], []
    for i, label in enumerate(p.labels):  # each true digit once, from the box that fits it best
        if len(boxes) and m[:, i].max() >= 0.5:
            xs.append(crops[int(m[:, i].argmax())])
            ys.append(label)
    for j in np.flatnonzero(m.max(1, initial=0.0) < 0.3):  # far from every digit: a scribble, a stroke, a piece
        xs.append(crops[j])
        ys.append(NOT_A_DIGIT)
    return np.array(xs, np.uint8).reshape(-1, 28, 28), np.array(ys, np.uint8)


def camera_crops(x: np.ndarray, y: np.ndarray, pages: int, seed: int, usps: tuple | None = None,
                 detector_path=None, workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) uint8 crops and their labels: what the learned detector (vision.detector, the shipped one
    unless detector_path; on every other page with its tiled passes, as predict runs) finds on `pages`
    generated photo pages (data.pages) of the digits x, y (and the
    USPS digits `usps` = (x, y) when given), cut and normalized exactly as the camera does. The box that
    fits a true digit best (IoU >= 0.5) gets its label; every box far from all digits (IoU < 0.3: a
    scribble, a stroke, a piece of a digit) gets NOT_A_DIGIT. Pages are made in `workers` processes;
    page i comes from seed + i, so the crops do not depend on the number of workers."""
    from multiprocessing import get_context

    sets = [(x, y)] + ([usps] if usps is not None else [])
    seeds = [seed + i for i in range(pages)]
    workers = workers or min(2, os.cpu_count() or 1)
    if workers <= 1 or pages < 8:
        _init(sets, detector_path)
        parts = [_page_crops(s) for s in seeds]
    else:
        with get_context("spawn").Pool(workers, initializer=_init, initargs=(sets, detector_path)) as pool:
            parts = pool.map(_page_crops, seeds, chunksize=32)
    xs = [a for a, _ in parts if len(a)]
    ys = [b for _, b in parts if len(b)]
    if not xs:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8)
    return np.concatenate(xs), np.concatenate(ys)


def usps_as_mnist(x: np.ndarray) -> np.ndarray:
    """USPS digits (16x16, each filling its box) drawn the way MNIST was made (vision.normalize_crop)."""
    import cv2

    from edge_digits.vision.normalize import normalize_crop

    return np.stack([normalize_crop(cv2.resize(d, (64, 64), interpolation=cv2.INTER_LINEAR)) for d in x])


def box_windows(x: np.ndarray, y: np.ndarray, pages: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training data of the box-fit net (edge_digits.boxfit): for every candidate the detector offers on
    `pages` pages built from x, y (pieces of merged groups too: what the net must learn to grow) that
    overlaps a true digit at IoU >= 0.2, its window, the true box in window units (x0, y0, x1, y1) and
    the candidate's IoU with it. Returns (N, 28, 28) uint8, (N, 4) float32, (N,) float32."""
    rng = np.random.default_rng(seed)
    xs, ts, ious = [], [], []
    for _ in range(pages):
        p = synth.make_page(x, y, rng)
        det = detect.find_digits(p.image, pieces=True)
        if not len(p.boxes):
            continue
        for b, wb, crop in zip(det.boxes, det.work, det.crops):
            v = [iou(b, t) for t in p.boxes]
            j = int(np.argmax(v))
            if v[j] < 0.2:
                continue
            win, (x0, y0, s) = boxfit.window(det.darker, det.paper, wb, crop)
            t = p.boxes[j] / det.scale
            xs.append(win)
            ts.append([(t[0] - x0) / s, (t[1] - y0) / s, (t[0] + t[2] - x0) / s, (t[1] + t[3] - y0) / s])
            ious.append(v[j])
    return (np.array(xs, np.uint8).reshape(-1, boxfit.SIZE, boxfit.SIZE), np.array(ts, np.float32).reshape(-1, 4),
            np.array(ious, np.float32))
