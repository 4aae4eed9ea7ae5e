"""vision.refine: the window the refiner sees, mapping its answer back, the refine loop, the learned path
keeping refined boxes as they are, and the shipped net fixing boxes that miss their digit."""
import numpy as np
import pytest

from edge_digits.core.boxes import iou
from edge_digits.data.mnist import load_sample
from edge_digits.vision import pipeline, refine
from edge_digits.vision import detector as det
from scenes import draw_digit, paper


class Truth:
    """A stand-in refiner that answers `box` (frame px) in each window's units: it learns each window's
    geometry from refine.window, patched to record it."""

    def __init__(self, monkeypatch, box):
        self.box, self.geo, self.calls = np.float32(box), [], 0
        real = refine.window

        def window(grey, b, *args):
            win, geo = real(grey, b, *args)
            self.geo.append(geo)
            return win, geo
        monkeypatch.setattr(refine, "window", window)

    def predict(self, x):
        self.calls += 1
        geo, self.geo = self.geo[-len(x):], []
        b = self.box
        return np.float32([[(b[0] - x0) / sw, (b[1] - y0) / sh, (b[0] + b[2] - x0) / sw, (b[1] + b[3] - y0) / sh]
                           for x0, y0, sw, sh in geo])


def grey(h=240, w=320):
    return paper(h, w)[..., 0].copy()


def test_window_is_square_centred_and_ink_high_and_narrower_across_a_thin_box():
    g = grey()
    g[100:140, 150:160] = 30  # a dark bar: ink
    win, (x0, y0, sw, sh) = refine.window(g, (145, 100, 20, 40))
    assert win.shape == (refine.SIZE, refine.SIZE) and win.dtype == np.uint8
    assert (sw, sh, x0, y0) == (80, 80, 115, 80)  # GROW x the longer side, centred on the box
    assert win[int((120 - y0) * refine.SIZE / sh), int((155 - x0) * refine.SIZE / sw)] > 200  # the bar
    assert win[1, 1] < 30 and win[-2, -2] < 30  # paper
    # a box a tenth as wide as tall (a thin 1): the window is half as wide as tall, the bar twice as wide in it
    win, (x0, y0, sw, sh) = refine.window(g, (153, 100, 4, 40))
    assert (sw, sh, x0, y0) == (40, 80, 135, 80)
    assert (win[14] > 100).sum() >= 2 * 10 * refine.SIZE / 80  # 10 px of 80 in a square window: 3.5 window px
    # in between, in proportion; a wide box's window is thinner down; thin=0: always square (the first round)
    assert refine.window(g, (150, 100, 15, 40))[1][2:] == (60, 80)
    assert refine.window(g, (150, 100, 40, 15))[1][2:] == (80, 60)
    assert refine.window(g, (153, 100, 4, 40), 0.0)[1][2:] == (80, 80)


def test_window_off_the_frame_edge_and_outside_it():
    g = grey(100, 100)
    g[0:20, 0:6] = 30
    win, (x0, y0, sw, sh) = refine.window(g, (0, 0, 20, 20))  # half the window is off the frame: border repeated
    assert win.shape == (28, 28) and (x0, y0, sw, sh) == (-10, -10, 40, 40)
    win, _ = refine.window(g, (500, 500, 10, 10))  # wholly outside: an empty window, no error
    assert win.shape == (28, 28) and win.max() == 0
    win, (_, _, sw, sh) = refine.window(g, (50, 50, 0, 0))  # a degenerate box still gets the smallest window
    assert sw == sh == refine.MIN_SIDE and win.shape == (28, 28)


def test_to_frame_maps_back_and_keeps_the_old_box_on_nonsense():
    geo = np.float32([[10, 20, 40, 80]] * 4)
    old = np.float32([[1, 2, 3, 4]] * 4)
    pred = np.float32([[0.25, 0.25, 0.75, 0.5], [np.nan, 0, 1, 1], [0.8, 0.2, 0.2, 0.8], [0, 0, 5, 5]])
    out = refine.to_frame(pred, geo, old)
    assert out[0].tolist() == [20, 40, 20, 20]
    assert (out[1:] == old[1:]).all()  # not finite, inverted, past twice the window


def test_refine_runs_one_call_a_pass_and_converges_on_what_the_net_says(monkeypatch):
    g = grey()
    truth = (150, 100, 12, 30)
    net = Truth(monkeypatch, truth)
    out = refine.refine(net, g, np.float32([[140, 95, 40, 36], [148, 90, 14, 40]]), passes=2)
    assert net.calls == 2 and np.allclose(out, [truth, truth], atol=1e-3)
    assert refine.refine(net, g, np.zeros((0, 4)), passes=2).shape == (0, 4) and net.calls == 2  # no boxes: no call


def test_refine_reads_square_windows_first_and_a_thin_box_narrower_last(monkeypatch):
    seen = []
    real = refine.window
    def window(grey, b, thin):
        seen.append(real(grey, b, thin)[1])
        return real(grey, b, thin)
    monkeypatch.setattr(refine, "window", window)

    class Still:  # answers each window with the box it was cut for: the box stays where it is
        def predict(self, x):
            x0, y0, sw, sh = np.float32(seen[-1])
            return np.float32([[(150 - x0) / sw, (100 - y0) / sh, (156 - x0) / sw, (130 - y0) / sh]])

    refine.refine(Still(), grey(), np.float32([[150, 100, 6, 30]]), passes=2)
    assert [g[2:] for g in seen] == [(60, 60), (30, 60)]  # a 1 a fifth as wide as tall: square, then half as wide


class _Net:
    """A detector net stand-in with one peak whose size is `wh` (net px) at `centre` (net px)."""

    in_size = (320, 240)

    def __init__(self, centre, wh):
        self.centre, self.wh = centre, wh

    def run(self, x):
        prob, geom = np.zeros((60, 80, 2), np.float32), np.zeros((60, 80, 4), np.float32)
        cx, cy = self.centre
        prob[int(cy // 4), int(cx // 4), 0] = 0.9
        geom[int(cy // 4), int(cx // 4)] = [np.log(self.wh[0]), np.log(self.wh[1]), cx / 4 % 1, cy / 4 % 1]
        return [prob, geom]


class _Reads7:
    def predict(self, x):
        p = np.zeros((len(x), 10), np.float32)
        p[:, 7] = 0.99
        return p


def test_learned_path_reports_refined_boxes_as_they_are_and_drops_ones_cut_by_the_edge(monkeypatch):
    d = load_sample()
    g = grey()
    true = draw_digit(g[..., None], d.x_test[d.y_test == 7][0], 150, 100, 40)
    net = _Net((true[0] + true[2] / 2 + 8, true[1] + true[3] / 2), (true[2] * 2.5, true[3]))  # too wide, off centre
    raw = det.LearnedDetector(net).find(g).boxes
    refined = (151, 101, true[2] - 2, 38)
    fixed = det.LearnedDetector(net, refiner=Truth(monkeypatch, refined))
    f = fixed.find(g, keep_maps=True)
    assert f.refined and np.allclose(f.raw, raw) and np.allclose(f.boxes, [refined], atol=1e-3)
    res = pipeline.read_frame(g, _Reads7(), detector=fixed)
    assert [dg.box for dg in res.digits] == [refined]  # reported as refined: no ink snapping after
    fixed.refiner.box = np.float32([0, 101, 20, 38])  # refined onto the frame edge: a cut digit, never reported
    assert len(fixed.find(g).boxes) == 0


@pytest.fixture(scope="module")
def shipped():
    from edge_digits.config import refine_model

    if not refine_model().is_file():
        pytest.skip("no shipped refiner (make models)")
    return refine.load_refiner(threads=1)


@pytest.mark.parametrize("label,height", [(1, 30), (4, 18), (0, 60), (7, 14)])
def test_shipped_refiner_fixes_boxes_that_miss_their_digit(shipped, label, height):
    """A digit with a neighbour beside it and a box centred on it but wide over the neighbour too, or too
    narrow, or shifted (IoU < 0.5 with the truth): the shipped net brings each to IoU >= 0.6."""
    d = load_sample()
    g = grey()
    x, y = 140, 90
    true = draw_digit(g[..., None], d.x_test[d.y_test == label][0], x, y, height)
    draw_digit(g[..., None], d.x_test[d.y_test == 3][0], x + true[2] + max(3, height // 4), y, height)
    tx, ty, tw, th = true
    wrong = [(tx + tw / 2 - (tw + th * 1.2) / 2, ty, tw + th * 1.2, th),  # centred on it, over the neighbour too
             (tx + tw * 0.25, ty + th * 0.05, tw * 0.4, th * 0.9) if tw > 8 else (tx - th * 0.3, ty, tw + th * 0.5, th),
             (tx + th * 0.25, ty + th * 0.2, tw, th)]  # shifted
    for b in wrong:
        assert iou(true, b) < 0.5
        got = refine.refine(shipped, g, np.float32([b]))[0]
        assert iou(true, got) >= 0.6, (label, b, got, iou(true, got))


def test_shipped_files_match_their_manifest():
    from edge_digits.config import refine_model
    from edge_digits.runtime import manifest as artifacts

    m = artifacts.read_manifest(refine_model().parent)
    assert {(a["file"], a["format"], a["precision"]) for a in m["artifacts"]} == {
        ("box-refine.keras", "keras", "fp32"), (refine_model().name, "tflite", "int8")}
    for a in m["artifacts"]:
        p = refine_model().parent / a["file"]
        assert artifacts.sha256_file(p) == a["sha256"] and p.stat().st_size == a["size_bytes"]
    q = next(a for a in m["artifacts"] if a["precision"] == "int8")
    assert q["int8_vs_keras_mean_iou"] >= 0.95 and q["size_bytes"] <= 300 * 1024
    assert (refine_model().parent / "README.md").is_file()
