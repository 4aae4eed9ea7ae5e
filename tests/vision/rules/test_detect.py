"""Finding digit candidates (edge_digits.detect, edge_digits.blobs) in small hand-made scenes."""
import cv2
import numpy as np
import pytest

from edge_digits.vision.rules import detect
from edge_digits.data import synth
from scenes import draw_digit, paper


@pytest.fixture(scope="module")
def digits(sample):
    return sample


def test_digit_cut_by_frame_edge_is_ignored(digits):
    img = paper()
    draw_digit(img, digits.x_test[0], 285, 60, 80)  # runs past the right edge
    assert detect.find_digits(img).boxes == []


def test_broken_digit_is_merged(digits):
    img = paper()
    i = int(np.flatnonzero(digits.y_test == 5)[0])
    box = draw_digit(img, digits.x_test[i], 120, 60, 100)
    img[100:104, 100:260] = 225  # the pen skipped: the 5 is in two pieces
    boxes = detect.find_digits(img).boxes
    assert len(boxes) == 1 and synth.iou(boxes[0], box) > 0.8


def test_digit_beside_the_desk_is_found(digits):
    img = paper()
    img[:, :40] = 70  # the page ends, the desk shows
    i = int(np.flatnonzero(digits.y_test == 3)[0])
    box = draw_digit(img, digits.x_test[i], 52, 60, 120)
    boxes = detect.find_digits(img).boxes
    assert len(boxes) == 1 and synth.iou(boxes[0], box) > 0.8


def test_slanted_stroke_the_pen_skipped_on_is_one_digit():
    img = paper()
    cv2.line(img, (180, 40), (120, 160), (30, 30, 30), 7, cv2.LINE_AA)  # a long slanted 1
    cv2.line(img, (100, 97), (220, 103), (225, 225, 225), 3)  # ... with a skip across it
    boxes = detect.find_digits(img).boxes
    assert len(boxes) == 1 and boxes[0][3] > 110


def test_small_digit_in_faint_ink_is_found_by_the_second_look(digits, monkeypatch):
    img = paper()
    i = int(np.flatnonzero(digits.y_test == 3)[0])
    box = draw_digit(img, digits.x_test[i], 150, 100, 16, ink=140)  # pencil, 16 px, blurred
    img = cv2.GaussianBlur(img, (3, 3), 0)
    found = detect.find_digits(img).boxes
    assert len(found) == 1 and synth.iou(found[0], box) > 0.5
    monkeypatch.setattr(detect, "FAINT_MAX_H", 0)  # the main threshold alone keeps only bits of it
    assert detect.find_digits(img).boxes == []


def test_short_upright_stroke_on_densely_ruled_paper_is_kept():
    # ruled lines a few pixels apart once passed, squeezed, for one tall vertical stroke, and a 1 between
    # them went out with it as a "margin line"
    img = paper(h=480, w=640)
    for y in range(10, 480, 22):
        cv2.line(img, (0, y), (640, y), (90, 80, 70), 2)
    cv2.rectangle(img, (300, 205), (302, 224), (30, 30, 30), -1)  # a 1, 20 px tall, 3 px wide
    boxes = detect.find_digits(img).boxes
    assert any(synth.iou(b, (300, 205, 3, 20)) > 0.5 for b in boxes)


def _one_on_a_faint_line(img):
    """A 1 crossed by a ruled line the ink threshold keeps only beside it: a 40 px dash of darker ink (far
    too short for the line search) in a line too faint for the ink mask. Returns the 1's box."""
    img[119:121, 20:300] = 185  # the faint line: 40 grey levels under the paper
    img[119:121, 140:180] = 125  # where the pen pressed harder, or the light fell differently
    cv2.rectangle(img, (158, 100), (162, 140), (30, 30, 30), -1)
    return 158, 100, 5, 41


def test_stub_of_a_faint_line_is_cut_off_the_digit(monkeypatch):
    img = paper()
    box = _one_on_a_faint_line(img)
    found = detect.find_digits(img).boxes
    assert len(found) == 1 and synth.iou(found[0], box) > 0.6
    monkeypatch.setattr(detect, "STUB_RATIO", 1.0)  # the line unseen past the stubs: they stay on the 1
    found = detect.find_digits(img).boxes
    assert len(found) == 1 and found[0][2] > 30


def test_bar_of_a_seven_is_no_stub():
    img = paper()
    img[119:121, 20:300] = 185  # a faint line, but not where the bar ends
    cv2.line(img, (100, 60), (140, 60), (30, 30, 30), 2)  # the bar ends in paper: it stays
    cv2.line(img, (140, 60), (120, 110), (30, 30, 30), 5)
    found = detect.find_digits(img).boxes
    assert len(found) == 1 and found[0][2] >= 40


@pytest.mark.parametrize("shape", [(480, 640), (720, 1280), (481, 643), (37, 50)])
def test_shrink_is_an_area_resize(shape):
    from edge_digits.vision.rules.blobs import shrink

    rng = np.random.default_rng(0)
    for p in (0.02, 0.2):
        m = ((rng.random(shape) < p) * 255).astype(np.uint8)
        for size in [(shape[1] // 4, shape[0] // 4), (shape[1] // 8, shape[0] // 4), (shape[1] // 4, shape[0] // 8)]:
            ours, area = shrink(m, size).astype(int), cv2.resize(m, size, interpolation=cv2.INTER_AREA)
            assert np.abs(ours - area).max() <= 1 and np.array_equal(ours > 10, area > 10)


def test_near_pieces_are_offered_joined():
    from edge_digits.vision.rules.blobs import near_pairs

    # x0, y0, x1, y1: the loop of a 6 and its stem a line cut off; a neighbour far off; a wide partner
    b = np.array([[100, 120, 118, 136], [102, 100, 110, 119], [200, 100, 218, 136], [60, 124, 98, 134]])
    pairs = near_pairs(b)
    assert (0, 1) in pairs and not any(2 in p for p in pairs)
    assert (0, 3) not in pairs  # together twice as wide as tall: no digit


def test_merge_rules_agree_in_python_and_numpy(monkeypatch):
    """merge tests a few boxes pair by pair in Python and many at once in numpy: the same groups either way."""
    from edge_digits.vision.rules import blobs

    rng = np.random.default_rng(0)
    joined = 0
    for _ in range(1500):
        n = int(rng.integers(2, 12))
        boxes = np.column_stack([rng.integers(0, 80, (n, 2)), rng.integers(1, 40, (n, 2))]).astype(np.int64)
        monkeypatch.setattr(blobs, "SMALL_MERGE", 0)
        vec = [g.tolist() for g in blobs.merge(boxes, (640, 480))]
        monkeypatch.setattr(blobs, "SMALL_MERGE", 100)
        py = [g.tolist() for g in blobs.merge(boxes, (640, 480))]
        assert py == vec, boxes
        joined += len(vec) < n
    assert joined > 500  # the boxes were close enough to test the rules, not only the empty case
