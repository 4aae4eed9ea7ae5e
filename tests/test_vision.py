"""The vision pipeline on photo-like pages built from the bundled MNIST sample (edge_digits.synth)."""
import cv2
import numpy as np
import pytest

from edge_digits import detect, synth, vision
from edge_digits.data import load_sample
from edge_digits.tracking import Tracker


@pytest.fixture(scope="module")
def digits():
    return load_sample()


@pytest.fixture(scope="module")
def runner():
    from edge_digits import runtimes

    return runtimes.load(threads=1)  # the shipped int8 model: what the camera runs by default


def _paper(h=240, w=320, level=225):
    return np.full((h, w, 3), level, np.uint8)


def _draw_digit(img, digit, x, y, height, ink=20):
    """An MNIST digit as dark ink, `height` pixels tall, top-left at (x, y); returns its box."""
    ys, xs = np.nonzero(digit > 40)
    c = digit[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1].astype(np.float32) / 255
    s = height / c.shape[0]
    a = cv2.resize(c, (max(1, round(c.shape[1] * s)), height), interpolation=cv2.INTER_LINEAR)
    region = img[y: y + a.shape[0], x: x + a.shape[1]]
    a = a[: region.shape[0], : region.shape[1], None]  # clipped by the frame edge
    region[:] = (region * (1 - a) + ink * a).astype(np.uint8)
    return x, y, a.shape[1], a.shape[0]


def test_normalize_keeps_mnist_digits_as_they_are(digits, runner):
    x, y = digits.x_test[:500], digits.y_test[:500]
    raw = runner.predict(x).argmax(1)
    norm = runner.predict(np.stack([vision.normalize_crop(i) for i in x])).argmax(1)
    assert (norm == raw).mean() >= 0.98
    assert (norm == y).mean() >= (raw == y).mean() - 0.01


def test_normalize_is_mnist_shaped():
    blob = np.zeros((90, 40), np.uint8)
    cv2.line(blob, (20, 5), (20, 85), 255, 6)
    out = vision.normalize_crop(blob)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    ys, xs = np.nonzero(out > 64)
    assert 18 <= ys.max() - ys.min() + 1 <= 20  # fit into the 20 px box, aspect kept
    m = cv2.moments(out)
    assert abs(m["m10"] / m["m00"] - 14) < 1 and abs(m["m01"] / m["m00"] - 14) < 1
    assert not vision.normalize_crop(np.zeros((10, 10), np.uint8)).any()


def test_stroke_width_is_normalized(digits):
    d = digits.x_test[3]
    big = cv2.resize(d, (280, 280), interpolation=cv2.INTER_LINEAR)
    thick = cv2.dilate(big, np.ones((25, 25), np.uint8))
    thin = cv2.erode(big, np.ones((15, 15), np.uint8))
    a, b = vision.normalize_crop(thick), vision.normalize_crop(thin)
    ink = lambda im: (im > 127).sum()  # noqa: E731
    raw_ratio = ink(cv2.resize(thick, (28, 28), interpolation=cv2.INTER_AREA)) / max(
        ink(cv2.resize(thin, (28, 28), interpolation=cv2.INTER_AREA)), 1)
    assert ink(a) / max(ink(b), 1) < 0.6 * raw_ratio


def test_pages_recall_precision_accuracy(digits, runner):
    pages = synth.make_pages(digits.x_test, digits.y_test, 40, seed=11)
    s = synth.read_pages(pages, runner)
    assert s["digits"] >= 120
    assert s["recall"] >= 0.92 and s["precision"] >= 0.92 and s["accuracy"] >= 0.88, s
    assert s["readings_exact"] >= 0.7, s


def test_one_predict_call_per_frame(digits, runner):
    calls = []

    class Counting:
        def predict(self, x):
            calls.append(len(x))
            return runner.predict(x)

    img = _paper()
    for k in range(4):
        i = int(np.flatnonzero(digits.y_test == k + 1)[0])
        _draw_digit(img, digits.x_test[i], 15 + 75 * k, 80, 50)
    res = vision.read_frame(img, Counting())
    assert calls == [4] and len(res.digits) == 4


def test_blank_noisy_page_has_no_digits(runner):
    rng = np.random.default_rng(0)
    img = np.clip(_paper().astype(np.float32) + rng.normal(0, 6, (240, 320, 3)), 0, 255).astype(np.uint8)
    for _ in range(30):  # specks
        cv2.circle(img, tuple(int(v) for v in rng.integers(5, 230, 2)), 1, (60, 60, 60), -1)
    assert vision.read_frame(img, runner).digits == []


def test_digit_cut_by_frame_edge_is_ignored(digits):
    img = _paper()
    _draw_digit(img, digits.x_test[0], 285, 60, 80)  # runs past the right edge
    assert vision.find_digits(img).boxes == []


def test_ruled_lines_and_margin_are_removed_and_crossing_digit_kept(digits, runner):
    img = _paper(300, 400)
    for yy in range(20, 300, 32):
        cv2.line(img, (0, yy), (400, yy + 6), (80, 70, 60), 2, cv2.LINE_AA)  # tilted a little
    cv2.line(img, (50, 0), (54, 300), (70, 70, 190), 2, cv2.LINE_AA)
    i = int(np.flatnonzero(digits.y_test == 4)[0])
    box = _draw_digit(img, digits.x_test[i], 180, 95, 90)  # crosses three ruled lines
    res = vision.read_frame(img, runner)
    assert [d.label for d in res.digits] == [4]
    assert synth.iou(res.digits[0].box, box) > 0.6


def test_broken_digit_is_merged(digits):
    img = _paper()
    i = int(np.flatnonzero(digits.y_test == 5)[0])
    box = _draw_digit(img, digits.x_test[i], 120, 60, 100)
    img[100:104, 100:260] = 225  # the pen skipped: the 5 is in two pieces
    boxes = vision.find_digits(img).boxes
    assert len(boxes) == 1 and synth.iou(boxes[0], box) > 0.8


def test_dark_shadow_and_gradient(digits, runner):
    img = _paper(240, 320).astype(np.float32)
    img *= np.linspace(1.0, 0.35, 320, dtype=np.float32)[None, :, None]  # light falls off to the right
    img = img.astype(np.uint8)
    labels = []
    for k, x in enumerate((30, 130, 230)):
        i = int(np.flatnonzero(digits.y_test == k + 1)[2])
        _draw_digit(img, digits.x_test[i], x, 80, 70, ink=10)
        labels.append(k + 1)
    res = vision.read_frame(img, runner)
    assert sorted(d.label for d in res.digits) == labels


def test_readings_group_digits_on_a_line():
    D = vision.Digit
    ds = [D((100, 50, 20, 30), 2, 1.0), D((125, 52, 20, 30), 0, 1.0), D((150, 49, 20, 30), 2, 1.0),
          D((176, 51, 20, 30), 6, 1.0), D((100, 200, 20, 30), 7, 1.0), D((400, 50, 20, 30), 9, 1.0)]
    assert vision.group_readings(ds[::-1]) == ["2026", "9", "7"]


def test_tracker_smooths_a_flicker():
    tr = Tracker()
    seq = [3, 3, 3, 8, 3, 3]
    out = []
    for k, label in enumerate(seq):
        p = np.full(10, 0.01, np.float32)
        p[label] = 0.9
        d = vision.Digit((100 + k, 50, 20, 30), label, 0.9, probs=p)
        digits_, readings = tr.update([d])
        out.append((digits_[0].label, digits_[0].track, readings))
    assert [o[0] for o in out] == [3] * 6
    assert len({o[1] for o in out}) == 1
    assert out[-1][2] == ["3"]


def test_touching_digits_are_split(digits, runner):
    img = _paper()
    a, b = (int(np.flatnonzero(digits.y_test == k)[0]) for k in (0, 9))
    box_a = _draw_digit(img, digits.x_test[a], 100, 80, 50)
    box_b = _draw_digit(img, digits.x_test[b], box_a[0] + box_a[2] - 3, 80, 50)  # the pen ran on
    res = vision.read_frame(img, runner)
    assert [d.label for d in sorted(res.digits, key=lambda d: d.box[0])] == [0, 9]
    assert min(synth.iou(d.box, t) for d, t in zip(sorted(res.digits, key=lambda d: d.box[0]), (box_a, box_b))) > 0.6


def test_digit_beside_the_desk_is_found(digits):
    img = _paper()
    img[:, :40] = 70  # the page ends, the desk shows
    i = int(np.flatnonzero(digits.y_test == 3)[0])
    box = _draw_digit(img, digits.x_test[i], 52, 60, 120)
    boxes = vision.find_digits(img).boxes
    assert len(boxes) == 1 and synth.iou(boxes[0], box) > 0.8


def test_slanted_stroke_the_pen_skipped_on_is_one_digit():
    img = _paper()
    cv2.line(img, (180, 40), (120, 160), (30, 30, 30), 7, cv2.LINE_AA)  # a long slanted 1
    cv2.line(img, (100, 97), (220, 103), (225, 225, 225), 3)  # ... with a skip across it
    boxes = vision.find_digits(img).boxes
    assert len(boxes) == 1 and boxes[0][3] > 110


def test_small_digit_in_faint_ink_is_found_by_the_second_look(digits, monkeypatch):
    img = _paper()
    i = int(np.flatnonzero(digits.y_test == 3)[0])
    box = _draw_digit(img, digits.x_test[i], 150, 100, 16, ink=140)  # pencil, 16 px, blurred
    img = cv2.GaussianBlur(img, (3, 3), 0)
    found = vision.find_digits(img).boxes
    assert len(found) == 1 and synth.iou(found[0], box) > 0.5
    monkeypatch.setattr(detect, "FAINT_MAX_H", 0)  # the main threshold alone keeps only bits of it
    assert vision.find_digits(img).boxes == []


@pytest.mark.parametrize("grey, width", [(140, 1), (175, 3)])  # in the ink; only in the faint ink
def test_faint_dashed_margin_line_is_no_digit(runner, grey, width):
    img = _paper()
    for y in range(5, 235, 25):  # a margin line the threshold breaks into dashes: each alone reads as a 1
        cv2.line(img, (60, y), (61, y + 16), (grey,) * 3, width, cv2.LINE_AA)
    img = cv2.GaussianBlur(img, (3, 3), 0)
    assert vision.read_frame(img, runner).digits == []


def test_short_upright_stroke_on_densely_ruled_paper_is_kept():
    # ruled lines a few pixels apart once passed, squeezed, for one tall vertical stroke, and a 1 between
    # them went out with it as a "margin line"
    img = _paper(h=480, w=640)
    for y in range(10, 480, 22):
        cv2.line(img, (0, y), (640, y), (90, 80, 70), 2)
    cv2.rectangle(img, (300, 205), (302, 224), (30, 30, 30), -1)  # a 1, 20 px tall, 3 px wide
    boxes = vision.find_digits(img).boxes
    assert any(synth.iou(b, (300, 205, 3, 20)) > 0.5 for b in boxes)


def test_digits_cut_by_the_frame_edge_are_no_ground_truth(digits):
    pages = synth.make_pages(digits.x_test, digits.y_test, 60, seed=5)
    ignored = [p for p in pages if len(p.ignore)]
    assert ignored, "the perspective pushes some digit against the frame edge in 60 pages"
    for p in pages:
        H, W = p.image.shape[:2]
        b = p.boxes
        assert ((b[:, 0] > synth.EDGE) & (b[:, 1] > synth.EDGE) & (b[:, 0] + b[:, 2] < W - synth.EDGE)
                & (b[:, 1] + b[:, 3] < H - synth.EDGE)).all()
        assert len(p.labels) == len(b) and sum(map(len, p.readings)) == len(b)
    # a box on an ignored digit is neither a hit nor a false alarm; one elsewhere is a false alarm
    p = ignored[0]
    truth = [(p.boxes, p.labels, p.readings, p.ignore)]
    perfect = (list(map(tuple, p.boxes)), list(p.labels), p.readings)
    assert synth.score(truth, [perfect])["precision"] == 1.0
    on_edge = (perfect[0] + [tuple(p.ignore[0])], perfect[1] + [0], perfect[2])
    assert synth.score(truth, [on_edge])["precision"] == 1.0
    stray = (perfect[0] + [(1000, 1000, 20, 20)], perfect[1] + [0], perfect[2])
    assert synth.score(truth, [stray])["precision"] < 1.0


@pytest.mark.parametrize("shape", [(480, 640), (720, 1280), (481, 643), (37, 50)])
def test_shrink_is_an_area_resize(shape):
    from edge_digits.blobs import shrink

    rng = np.random.default_rng(0)
    for p in (0.02, 0.2):
        m = ((rng.random(shape) < p) * 255).astype(np.uint8)
        for size in [(shape[1] // 4, shape[0] // 4), (shape[1] // 8, shape[0] // 4), (shape[1] // 4, shape[0] // 8)]:
            ours, area = shrink(m, size).astype(int), cv2.resize(m, size, interpolation=cv2.INTER_AREA)
            assert np.abs(ours - area).max() <= 1 and np.array_equal(ours > 10, area > 10)


def test_near_pieces_are_offered_joined():
    from edge_digits.blobs import near_pairs

    # x0, y0, x1, y1: the loop of a 6 and its stem a line cut off; a neighbour far off; a wide partner
    b = np.array([[100, 120, 118, 136], [102, 100, 110, 119], [200, 100, 218, 136], [60, 124, 98, 134]])
    pairs = near_pairs(b)
    assert (0, 1) in pairs and not any(2 in p for p in pairs)
    assert (0, 3) not in pairs  # together twice as wide as tall: no digit


class _Fixed:
    """A runner that gives each crop the confidence set for it, for label 3."""
    def __init__(self, conf):
        self.conf = conf

    def predict(self, batch):
        c = np.asarray(self.conf, np.float32)[:, None]
        return np.where(np.arange(10) == 3, c, (1 - c) / 9)


@pytest.mark.parametrize("conf, kept", [((0.3, 0.9, 0.97), [2]), ((0.95, 0.9, 0.8), [0, 1]),
                                        ((0.1, 0.12, 0.15), [])])  # all under MIN_CONFIDENCE
def test_join_kept_only_when_surer_than_its_parts(monkeypatch, conf, kept):
    crop = np.full((12, 6), 255, np.uint8)
    det = vision.Detections([(10, 10, 6, 12), (18, 10, 6, 12), (10, 10, 14, 12)], [crop] * 3,
                            np.zeros((40, 40), np.uint8), 1.0, joins=[(2, 0, 1)])
    monkeypatch.setattr(vision, "find_digits", lambda frame: det)
    res = vision.read_frame(np.zeros((40, 40, 3), np.uint8), _Fixed(conf), min_confidence=0.2)
    assert sorted(det.boxes.index(d.box) for d in res.digits) == kept
