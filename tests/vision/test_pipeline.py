"""The vision pipeline on photo-like pages built from the bundled MNIST sample (edge_digits.synth)."""
import cv2
import numpy as np
import pytest

from edge_digits.training import evaluate
from edge_digits.data import synth
from edge_digits.vision import pipeline as vision
from edge_digits.data.mnist import load_sample
from edge_digits.vision.tracking import Tracker
from scenes import draw_digit, paper


@pytest.fixture(scope="module")
def digits():
    return load_sample()


@pytest.fixture(scope="module")
def runner():
    from edge_digits import runtime as runtimes

    return runtimes.load(threads=1)  # the shipped int8 model: what the camera runs by default


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


def test_a_crop_solid_with_ink_is_not_eroded_by_a_kernel_wider_than_a_stroke(monkeypatch):
    """A box that is no digit can hold nothing but ink (a shadow, a dark desk): no edge, so the measured
    stroke is as wide as the crop; the stroke fix stays within MAX_STROKE_FIX (a kernel thousands of px
    wide took 0.8 s for one crop)."""
    from edge_digits.vision import normalize

    sizes = []
    real = cv2.getStructuringElement
    monkeypatch.setattr(normalize.cv2, "getStructuringElement", lambda shape, k: sizes.append(k) or real(shape, k))
    out = normalize.normalize_crop(np.full((96, 90), 255, np.uint8))
    assert out.shape == (28, 28) and out.max() == 255
    assert sizes and max(max(k) for k in sizes) <= 2 * normalize.MAX_STROKE_FIX + 1


def test_pages_recall_precision_accuracy(digits, runner):
    pages = synth.make_pages(digits.x_test, digits.y_test, 40, seed=11)
    s = evaluate.read_pages(pages, runner)
    assert s["digits"] >= 120
    assert s["recall"] >= 0.92 and s["precision"] >= 0.92 and s["accuracy"] >= 0.88, s
    assert s["readings_exact"] >= 0.7, s


def test_one_predict_call_per_frame(digits, runner):
    calls = []

    class Counting:
        def predict(self, x):
            calls.append(len(x))
            return runner.predict(x)

    img = paper()
    for k in range(4):
        i = int(np.flatnonzero(digits.y_test == k + 1)[0])
        draw_digit(img, digits.x_test[i], 15 + 75 * k, 80, 50)
    res = vision.read_frame(img, Counting())
    assert calls == [4] and len(res.digits) == 4


def test_blank_noisy_page_has_no_digits(runner):
    rng = np.random.default_rng(0)
    img = np.clip(paper().astype(np.float32) + rng.normal(0, 6, (240, 320, 3)), 0, 255).astype(np.uint8)
    for _ in range(30):  # specks
        cv2.circle(img, tuple(int(v) for v in rng.integers(5, 230, 2)), 1, (60, 60, 60), -1)
    assert vision.read_frame(img, runner).digits == []


def test_ruled_lines_and_margin_are_removed_and_crossing_digit_kept(digits, runner):
    img = paper(300, 400)
    for yy in range(20, 300, 32):
        cv2.line(img, (0, yy), (400, yy + 6), (80, 70, 60), 2, cv2.LINE_AA)  # tilted a little
    cv2.line(img, (50, 0), (54, 300), (70, 70, 190), 2, cv2.LINE_AA)
    i = int(np.flatnonzero(digits.y_test == 4)[0])
    box = draw_digit(img, digits.x_test[i], 180, 95, 90)  # crosses three ruled lines
    res = vision.read_frame(img, runner)
    assert [d.label for d in res.digits] == [4]
    assert synth.iou(res.digits[0].box, box) > 0.6


def test_dark_shadow_and_gradient(digits, runner):
    img = paper(240, 320).astype(np.float32)
    img *= np.linspace(1.0, 0.35, 320, dtype=np.float32)[None, :, None]  # light falls off to the right
    img = img.astype(np.uint8)
    labels = []
    for k, x in enumerate((30, 130, 230)):
        i = int(np.flatnonzero(digits.y_test == k + 1)[2])
        draw_digit(img, digits.x_test[i], x, 80, 70, ink=10)
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
        digits_, numbers = tr.update([d])
        readings = [n.text for n in numbers]
        out.append((digits_[0].label, digits_[0].track, readings))
    assert [o[0] for o in out] == [3] * 6
    assert len({o[1] for o in out}) == 1
    assert out[-1][2] == ["3"]


def test_tracker_follows_a_real_change_and_keeps_the_detector_numbers():
    tr = Tracker()
    out = []
    for k, label in enumerate([1] * 4 + [7] * 6):  # the digit really becomes a 7 (a stroke added)
        p = np.full(10, 0.01, np.float32)
        p[label] = 0.9
        d = [vision.Digit((100, 50, 20, 30), label, 0.9, probs=p), vision.Digit((125, 50, 20, 30), 2, 0.9)]
        got, numbers = tr.update(d, [vision.Number("x", (100, 50, 45, 30), [0, 1])])
        out.append(got[0].label)
        assert [n.digits for n in numbers] == [[0, 1]] and numbers[0].text == f"{got[0].label}2"
    assert out[:4] == [1] * 4 and out[-1] == 7  # the vote turns once the new label clearly leads
    assert out.index(7) >= 5  # not at its first frame: one frame never flips a label


def test_touching_digits_are_split(digits, runner):
    img = paper()
    a, b = (int(np.flatnonzero(digits.y_test == k)[0]) for k in (0, 9))
    box_a = draw_digit(img, digits.x_test[a], 100, 80, 50)
    box_b = draw_digit(img, digits.x_test[b], box_a[0] + box_a[2] - 3, 80, 50)  # the pen ran on
    res = vision.read_frame(img, runner)
    assert [d.label for d in sorted(res.digits, key=lambda d: d.box[0])] == [0, 9]
    assert min(synth.iou(d.box, t) for d, t in zip(sorted(res.digits, key=lambda d: d.box[0]), (box_a, box_b))) > 0.6


@pytest.mark.parametrize("grey, width", [(140, 1), (175, 3)])  # in the ink; only in the faint ink
def test_faint_dashed_margin_line_is_no_digit(runner, grey, width):
    img = paper()
    for y in range(5, 235, 25):  # a margin line the threshold breaks into dashes: each alone reads as a 1
        cv2.line(img, (60, y), (61, y + 16), (grey,) * 3, width, cv2.LINE_AA)
    img = cv2.GaussianBlur(img, (3, 3), 0)
    assert vision.read_frame(img, runner).digits == []


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


@pytest.mark.parametrize("conf, kept", [((0.1, 0.45), []),  # the faint look's blob needs 0.5, not 0.3
                                        ((0.45, 0.6), [1]),  # surer than the bit it covers: it replaces it
                                        ((0.9, 0.6), [0])])  # less sure than the bit: the bit stays
def test_faint_candidate_needs_more_confidence_and_replaces_what_it_covers(monkeypatch, conf, kept):
    crop = np.full((12, 6), 255, np.uint8)
    det = vision.Detections([(10, 14, 6, 8), (10, 10, 8, 14)], [crop] * 2, np.zeros((40, 40), np.uint8), 1.0,
                            joins=[(1, 0)], faint=[1])
    monkeypatch.setattr(vision, "find_digits", lambda frame: det)
    res = vision.read_frame(np.zeros((40, 40, 3), np.uint8), _Fixed(conf), min_confidence=0.3)
    assert sorted(det.boxes.index(d.box) for d in res.digits) == kept


def test_tracker_votes_the_detector_links():
    """A link the detector misses in one or two frames holds ("55" does not flicker into "5" "5"), a link
    that stops for good ends, and a link seen in one frame only does not outlive two frames."""
    tr = Tracker()
    a, b = (100, 50, 20, 30), (125, 50, 20, 30)
    N = vision.Number

    def frame(linked: bool):
        ds = [vision.Digit(a, 5, 0.9), vision.Digit(b, 5, 0.9)]
        nums = [N("55", (100, 50, 45, 30), [0, 1])] if linked else [N("5", a, [0]), N("5", b, [1])]
        return [n.text for n in tr.update(ds, nums)[1]]

    seq = [True] * 5 + [False, False, True, False, True] + [False] * 6
    got = [frame(s) for s in seq]
    assert all(g == ["55"] for g in got[:10])  # the misses at frames 5, 6 and 8 are voted away
    assert got[-1] == ["5", "5"]  # six frames without it: two numbers
    tr = Tracker()  # frame() reads this one from now on
    got = [frame(s) for s in [False, True, False, False, False]]
    assert got[1] == ["55"] and got[-1] == ["5", "5"]
