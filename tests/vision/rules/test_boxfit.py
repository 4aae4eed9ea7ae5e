"""edge_digits.boxfit: the window the net sees, growing a box by whole blobs, dropping pieces, and the shipped
net fitting the box of a digit the detector found only part of."""
import cv2
import numpy as np
import pytest

from edge_digits.training import evaluate
from edge_digits.vision.rules import boxfit
from edge_digits.data import synth
from edge_digits.vision import pipeline as vision
from edge_digits.core.boxes import iou
from edge_digits.data.mnist import load_sample
from edge_digits.vision.rules.detect import Detections
from scenes import draw_digit, paper


class Fixed:
    """A stand-in box-fit runner: says the whole digit is `est` (window units) for every window."""

    def __init__(self, est):
        self.est, self.calls = np.array(est, np.float32), []

    def predict(self, x):
        self.calls.append(x.copy())
        return np.tile(self.est, (len(x), 1))


def test_window_shows_the_candidate_full_and_other_ink_at_half():
    darker = np.zeros((100, 100), np.uint8)
    paper_ = np.full((100, 100), 200, np.uint8)
    darker[40:60, 45:55] = 150  # the candidate's blob: 75% darker than the paper, full ink
    darker[40:60, 60:68] = 150  # a neighbour's blob
    own = np.full((20, 10), 255, np.uint8)
    win, (x0, y0, s) = boxfit.window(darker, paper_, (45, 40, 10, 20), own)
    assert win.shape == (boxfit.SIZE, boxfit.SIZE) and win.dtype == np.uint8
    assert (s, x0, y0) == (40, 30, 30)  # GROW x the longer side, centred on the box
    k = boxfit.SIZE / s
    assert win[int(50 * k - y0 * k), int(50 * k - x0 * k)] == 255  # own ink
    assert abs(int(win[int(50 * k - y0 * k), int(64 * k - x0 * k)]) - boxfit.OTHER) <= 2  # the neighbour at half
    assert win[1, 1] == 0  # paper


def test_window_off_the_frame_is_blank_there():
    darker = np.full((50, 50), 100, np.uint8)
    win, (x0, y0, s) = boxfit.window(darker, np.full((50, 50), 200, np.uint8), (0, 0, 10, 10))
    assert (x0, y0, s) == (-5, -5, 20)
    assert win[0, 0] == 0 and win[-1, -1] > 0


def test_grow_takes_only_blobs_wholly_in_the_estimate():
    rects = np.array([[10, 10, 10, 20],   # the candidate itself
                      [22, 2, 12, 6],     # a detached hat, inside the estimate
                      [40, 10, 10, 20]])  # a neighbour, partly in the estimate
    box = (10, 10, 10, 20)
    grown = boxfit.grow([box] * 3, [(9, 1, 26, 29),   # takes the hat
                                    (9, 1, 31, 29),   # widened, 4 of the neighbour's 10 px columns: no
                                    (5, 5, 20, 30)],  # nothing new inside
                        rects)
    assert grown.tolist() == [[10, 2, 24, 28], [10, 2, 24, 28], [10, 10, 10, 20]]
    assert boxfit.grow([box], [(0, 0, 50, 50)], np.zeros((0, 4), np.int64)).tolist() == [list(box)]


def test_drop_nested_keeps_the_whole_and_neighbours():
    boxes = [(10, 10, 30, 40), (12, 12, 8, 10), (45, 10, 30, 40), (35, 10, 12, 40)]
    # the piece inside the first goes; one straddling two digits, mostly in neither, stays
    assert boxfit.drop_nested(boxes) == [0, 2, 3]


def test_fit_grows_in_working_pixels_and_answers_in_source_pixels():
    # a frame shrunk 2x for detection: the candidate (10, 10, 10, 20) working is (20, 20, 20, 40) in the source
    darker = np.zeros((60, 60), np.uint8)
    det = Detections(boxes=[(20, 20, 20, 40)], crops=[np.full((20, 10), 255, np.uint8)],
                     mask=np.zeros((60, 60), np.uint8), scale=2.0, work=[(10, 10, 10, 20)],
                     rects=np.array([[10, 10, 10, 20], [22, 2, 12, 6]]), darker=darker,
                     paper=np.full((60, 60), 200, np.uint8))
    # the window is 40 px from (-5, 0); (14, 1)-(40, 30) in window units
    fake = Fixed([14 / 40, 1 / 40, 40 / 40, 30 / 40])
    assert boxfit.fit(det, [0], fake) == [(20, 4, 48, 56)]
    assert len(fake.calls) == 1 and fake.calls[0].shape == (1, boxfit.SIZE, boxfit.SIZE)
    assert boxfit.fit(det, [], fake) == [] and len(fake.calls) == 1


@pytest.fixture(scope="module")
def runner():
    from edge_digits import runtime as runtimes

    return runtimes.load(threads=1)


def test_read_frame_with_boxfit_one_more_call_and_its_time(runner):
    digits = load_sample()
    img = paper()
    for k in range(3):
        i = int(np.flatnonzero(digits.y_test == k + 1)[0])
        draw_digit(img, digits.x_test[i], 20 + 90 * k, 80, 20 if k else 60)  # the tall one is not fitted
    plain = vision.read_frame(img, runner)
    fake = Fixed([0.25, 0.25, 0.75, 0.75])  # "the box is right": nothing grows
    res = vision.read_frame(img, runner, boxfit=fake)
    assert len(plain.digits) == 3 and len(fake.calls) == 1 and len(fake.calls[0]) == 2
    assert [d.box for d in res.digits] == [d.box for d in plain.digits]
    assert "fit" in res.ms and "fit" not in plain.ms


@pytest.mark.parametrize("seed,page,box", [(20, 26, (38, 285, 15, 17)), (35, 55, (94, 187, 14, 17)),
                                           (36, 47, (534, 385, 9, 15))])
def test_shipped_net_fits_digits_the_detector_found_in_part(runner, seed, page, box):
    """Digits of the test pages (a 4, a 5, a 7, 15-17 px tall) whose box the detector gets only in part
    (IoU < 0.5 with the truth): the shipped net grows it to the whole digit."""
    d = load_sample()
    p = synth.make_pages(d.x_test, d.y_test, page + 1, seed=seed)[page]
    assert box in [tuple(int(v) for v in b) for b in p.boxes]
    plain = vision.read_frame(p.image, runner)
    fitted = vision.read_frame(p.image, runner, boxfit=boxfit.load())
    best = lambda res: max((iou(box, g.box) for g in res.digits), default=0)  # noqa: E731
    assert best(plain) < 0.5 <= 0.75 <= best(fitted), (best(plain), best(fitted))


def test_boxfit_on_pages_finds_no_fewer_digits(runner):
    """On photo-like test pages, growing boxes must not lose digits or add false alarms."""
    digits = load_sample()
    pages = synth.make_pages(digits.x_test, digits.y_test, 40, seed=11)
    plain = evaluate.read_pages(pages, runner)
    fitted = evaluate.read_pages(pages, runner, boxfit=boxfit.load())
    assert fitted["recall"] >= plain["recall"] and fitted["precision"] >= plain["precision"] - 0.005, (plain, fitted)


def test_shipped_files_match_their_manifest():
    from edge_digits.runtime import manifest as artifacts
    from edge_digits.config import boxfit_model

    BOXFIT_MODEL = boxfit_model()

    m = artifacts.read_manifest(BOXFIT_MODEL.parent)
    assert {(a["file"], a["format"], a["precision"]) for a in m["artifacts"]} == {
        ("box-fit.keras", "keras", "fp32"), (BOXFIT_MODEL.name, "tflite", "int8")}
    for a in m["artifacts"]:
        p = BOXFIT_MODEL.parent / a["file"]
        assert artifacts.sha256_file(p) == a["sha256"] and p.stat().st_size == a["size_bytes"]
    assert (BOXFIT_MODEL.parent / "README.md").is_file()
