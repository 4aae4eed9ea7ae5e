"""The learned detector's post-process (vision.detector) against its training targets, the learned path of
read_frame with a stand-in net and classifier, and the shipped detector file."""
import cv2
import numpy as np
import pytest

from edge_digits.core.boxes import iou
from edge_digits.training.detector_targets import encode_targets, perfect_maps
from edge_digits.vision import detector as det
from edge_digits.vision import pipeline

CASES = [  # (src_size, boxes, numbers)
    ((640, 480), [[40, 50, 30, 44], [75, 52, 28, 42], [108, 50, 31, 45], [400, 300, 120, 170]], [[0, 1, 2], [3]]),
    ((480, 640), [[100, 100, 40, 60], [150, 104, 38, 58], [100, 400, 40, 60], [150, 404, 40, 60]], [[0, 1], [2, 3]]),
    ((320, 240), [[10, 10, 8, 12], [20, 11, 8, 12], [200, 100, 60, 90]], [[0, 1], [2]]),
]


@pytest.mark.parametrize("src, boxes, numbers", CASES)
def test_perfect_maps_decode_to_the_boxes_and_numbers(src, boxes, numbers):
    boxes = np.array(boxes, float)
    t = encode_targets(boxes, numbers, np.zeros((0, 4)), (det.IN_W, det.IN_H), src)
    digits, found = det.decode(*perfect_maps(t), src)
    assert len(digits) == len(boxes)
    match = {i: int(np.argmax([iou(b, d[0]) for d in digits])) for i, b in enumerate(boxes)}
    assert all(iou(b, digits[match[i]][0]) > 0.95 for i, b in enumerate(boxes))
    assert sorted([match[i] for i in n] for n in numbers) == sorted(found)


def test_a_dense_table_of_64_digits_decodes_whole():
    # a page of tables holds more digits than the old cap of 40 peaks: none of them may be dropped
    boxes = np.array([[20 + 36 * c, 16 + 28 * r, 18, 24] for r in range(8) for c in range(8)], float)
    t = encode_targets(boxes, [], np.zeros((0, 4)), (det.IN_W, det.IN_H), (det.IN_W, det.IN_H))
    digits, _ = det.decode(*perfect_maps(t))
    assert len(digits) == 64 <= det.MAX_PEAKS


def test_ignore_regions_are_masked_out_of_the_loss():
    t = encode_targets(np.zeros((0, 4)), [], np.array([[0, 0, 80, 80]]), (320, 240), (320, 240))
    assert t["heat_mask"][:20, :20].sum() == 0 and t["heat_mask"][30:, 30:].min() == 1 and t["heat"].max() == 0


def test_empty_maps_give_nothing():
    assert det.decode(np.zeros((60, 80, 2), np.float32), np.zeros((60, 80, 4), np.float32), (640, 480)) == ([], [])


def test_portrait_frames_are_letterboxed():
    s, px, py = det.letterbox((480, 640), (320, 240))
    assert s == pytest.approx(240 / 640) and px == pytest.approx((320 - 180) / 2) and py == 0
    assert det.to_input(np.full((640, 480), 200, np.uint8)).shape == (240, 320)


def test_numbers_read_left_to_right():
    boxes = np.array([[200, 100, 30, 40], [130, 100, 30, 40], [165, 100, 30, 40]], float)
    t = encode_targets(boxes, [[1, 2, 0]], np.zeros((0, 4)), (320, 240), (320, 240))
    digits, numbers = det.decode(*perfect_maps(t), (320, 240))
    xs = [digits[i][0][0] for i in numbers[0]]
    assert xs == sorted(xs) and len(numbers) == 1


def test_a_link_survives_one_dip_along_it_but_not_two():
    boxes = np.array([[100, 100, 30, 40], [140, 100, 30, 40]], float)
    prob, geom = perfect_maps(encode_targets(boxes, [[0, 1]], np.zeros((0, 4)), (320, 240), (320, 240)))
    (cx0, cy), cx1 = [c / det.STRIDE for c in (115, 120)], 155 / det.STRIDE
    xs = [int(np.rint(cx0 + f * (cx1 - cx0))) for f in det.LINK_SAMPLES]
    row = int(np.rint(cy))
    prob[row, :, 1] = np.where(np.isin(np.arange(prob.shape[1]), xs), 0.9, prob[row, :, 1])
    one = prob.copy()
    one[row, xs[2], 1] = 0.0  # a dip under one sample (a gap in the stroke of the map)
    assert len(det.decode(one, geom, (320, 240))[1]) == 1
    two = one.copy()
    two[row, xs[3], 1] = 0.0
    assert len(det.decode(two, geom, (320, 240))[1]) == 2


class _Net:
    """A stand-in detector net that returns the perfect maps of given boxes and numbers."""

    in_size = (det.IN_W, det.IN_H)

    def __init__(self, boxes, numbers, src):
        self.maps = perfect_maps(encode_targets(np.array(boxes, float), numbers, np.zeros((0, 4)), self.in_size, src))

    def run(self, x):
        return [self.maps[1], self.maps[0]]  # any order: told apart by their channels


class _Classifier:
    """Reads crop i as labels[i], 0.1 sure if i is in `unsure`, else 0.99; a second view of each crop
    (read_learned sends crops then their second views, 2N in all) is read as the crop."""

    def __init__(self, labels, unsure=()):
        self.labels, self.unsure = labels, set(unsure)

    def predict(self, x):
        p = np.full((len(x), 10), 0.0, np.float32)
        for i in range(len(x)):
            k = i % len(self.labels)
            p[i, self.labels[k]] = 0.1 if k in self.unsure else 0.99
        return p


def test_learned_path_reads_numbers_and_drops_unsure_digits_and_cut_ones():
    frame = np.full((480, 640, 3), 230, np.uint8)
    boxes = [[100, 100, 30, 44], [135, 102, 30, 44], [170, 100, 30, 44], [400, 300, 40, 60], [620, 200, 30, 50]]
    for x, y, w, h in boxes:  # some ink in each box, so the crops are not empty
        cv2.line(frame, (x + w // 2, y + 4), (x + w // 2, y + h - 4), (30, 30, 30), 3)
    d = det.LearnedDetector(_Net(boxes, [[0, 1, 2], [3], [4]], (640, 480)))
    found = d.find(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    assert len(found.boxes) == 4  # the box at x 620..650 runs past the frame's 640: cut by the edge, dropped
    order = np.argsort(found.boxes[:, 0])  # the stand-in classifier labels crops in the detector's order
    labels = [0] * 4
    for rank, i in enumerate(order):
        labels[i] = [2, 0, 2, 6][rank]
    res = pipeline.read_frame(frame, _Classifier(labels), detector=d)
    assert res.readings == ["202", "6"]
    assert [n.to_json()["digits"] for n in res.numbers] == [[0, 1, 2], [3]] or len(res.digits) == 4
    unsure = int(order[1])  # the middle digit of 202: dropped, and its number keeps the rest
    res = pipeline.read_frame(frame, _Classifier(labels, unsure=[unsure]), detector=d)
    assert res.readings == ["22", "6"] and len(res.digits) == 3 and res.rejected == 1


def test_shipped_detector_loads_and_finds_nothing_on_blank_paper():
    from edge_digits.config import detector_model

    if not detector_model().is_file():
        pytest.skip("no shipped detector (make models)")
    d = det.load_detector(threads=1)
    w, h = d.in_size  # the file's own input (export --imgsz)
    for shape in [(480, 640), (640, 480), (240, 320)]:
        prob, geom = d.maps(np.full(shape, 210, np.uint8))
        assert prob.shape == (h // 4, w // 4, 2) and geom.shape == (h // 4, w // 4, 4) and 0 <= prob.min() <= prob.max() <= 1
    assert len(d.find(np.full((480, 640), 210, np.uint8)).boxes) == 0


class _SureClassifier:
    """Reads every crop as a 3 with the given confidence."""

    def __init__(self, conf):
        self.conf = conf

    def predict(self, x):
        p = np.full((len(x), 10), (1 - self.conf) / 9, np.float32)
        p[:, 3] = self.conf
        return p


def _two_digit_frame():
    """A grey 640x480 page with a stroke in each of two boxes far apart, and those boxes."""
    frame = np.full((480, 640), 230, np.uint8)
    boxes = [[100, 100, 30, 44], [450, 100, 30, 44]]
    for x, y, w, h in boxes:
        cv2.line(frame, (x + w // 2, y + 4), (x + w // 2, y + h - 4), 30, 3)
    return frame, boxes


def test_the_accept_model_decides_which_candidates_are_digits():
    from edge_digits.vision.accept import FEATURES, Accept

    frame, boxes = _two_digit_frame()
    net = _Net(boxes, [[0], [1]], (640, 480))
    heat = net.maps[0][..., 0]
    heat[:, heat.shape[1] // 2:] *= 0.3 / heat[:, heat.shape[1] // 2:].max()  # the right digit's peak: 0.3
    w = np.zeros(len(FEATURES))
    w[FEATURES.index("logit_peak")] = 1.0  # a stand-in model: a digit when its peak is over 0.5
    d = det.LearnedDetector(net, accept=Accept(w, 0.0, 0.5))
    assert sorted(np.round(d.find(frame).scores, 2)) == [0.3, 1.0]  # both peaks are candidates
    res = pipeline.read_frame(frame, _SureClassifier(0.2), detector=d)
    assert [b[0] // 100 for b in (x.box for x in res.digits)] == [1]  # the strong one, though read at 0.2
    assert pipeline.read_frame(frame, _SureClassifier(0.2), detector=d, min_confidence=0.3).digits == []  # a floor too
    d.accept = None  # without a model: every candidate read at config.MIN_CONFIDENCE
    assert pipeline.read_frame(frame, _SureClassifier(0.2), detector=d).digits == []
    res = pipeline.read_frame(frame, _SureClassifier(0.9), detector=d)
    assert len(res.digits) == 2 and res.readings == ["3", "3"]


class _TwoViewClassifier:
    """Counts its calls; of the crops, the first 1/views are read as a 3 for sure, the rest (the second
    views) as a 5 at `second` and a 3 at 1 - second."""

    def __init__(self, second, views=2):
        self.second, self.views, self.calls = second, views, []

    def predict(self, x):
        self.calls.append(len(x))
        p = np.zeros((len(x), 10), np.float32)
        n = len(x) // self.views
        p[:n, 3] = 1.0
        p[n:, 5] = self.second
        p[n:, 3] = 1.0 - self.second
        return p


def test_the_classifier_reads_two_views_of_each_digit_in_one_call_and_averages_them():
    frame, boxes = _two_digit_frame()
    d = det.LearnedDetector(_Net(boxes, [[0], [1]], (640, 480)))
    assert d.view_grow > 0  # the default
    clf = _TwoViewClassifier(0.2)
    res = pipeline.read_frame(frame, clf, detector=d)
    assert clf.calls == [4] and res.readings == ["3", "3"]
    assert [round(g.confidence, 2) for g in res.digits] == [0.9, 0.9]  # (1.0 + 0.8) / 2: the views averaged
    clf = _TwoViewClassifier(0.9)  # the second views read 5 at 0.9: 3 at (1.0 + 0.1) / 2, 5 at 0.45
    assert [(g.label, round(g.confidence, 2)) for g in pipeline.read_frame(frame, clf, detector=d).digits] == [(3, 0.55)] * 2
    d.view_grow = 0  # one view: N crops
    clf = _TwoViewClassifier(0.2, views=1)
    res = pipeline.read_frame(frame, clf, detector=d)
    assert clf.calls == [2] and [round(g.confidence, 2) for g in res.digits] == [1.0, 1.0]
