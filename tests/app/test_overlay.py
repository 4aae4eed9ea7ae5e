"""The window's drawing and key handling, without a display: overlay.draw() and friends are pure, and
Window.interact() runs here on a stand-in for OpenCV's highgui."""
import itertools
from pathlib import Path
import time
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from edge_digits.app import overlay, window
from edge_digits.config import EdgeDigitsError
from edge_digits.vision.results import Digit, FrameResult, Number


def _result(boxes, labels=None, numbers=()):
    labels = labels or [i % 10 for i in range(len(boxes))]
    digits = [Digit(b, l, 0.97) for b, l in zip(boxes, labels)]
    return FrameResult(digits, list(numbers), {"detect": 1.0, "classify": 0.5})


def _paper(h, w):
    return np.full((h, w, 3), 220, np.uint8)


def test_labels_of_close_digits_do_not_overlap():
    # a row of five narrow digits 2 px apart (one number) and a second row just under it
    row = [(100 + 22 * i, 200, 20, 30) for i in range(5)]
    row2 = [(104 + 22 * i, 236, 20, 30) for i in range(4)]
    n = Number("01234", (100, 200, 108, 30), [0, 1, 2, 3, 4])
    res = _result(row + row2, numbers=[n])
    lay = overlay.Drawn()
    out = overlay.draw(_paper(480, 640), res, 30.0, {"capture": 1.0, **res.ms}, layout=lay)
    assert out.shape == (480, 640, 3)
    rects = lay.labels + lay.number_labels
    assert len(lay.labels) == len(res.digits)
    for a, b in itertools.combinations(rects, 2):
        assert not overlaps(a, b), (a, b)
    for r in rects:  # inside the frame, clear of the header and readings bands
        assert r[0] >= 0 and r[1] >= 0 and r[0] + r[2] <= 640 and r[1] + r[3] <= 480
        assert not any(overlaps(r, band) for band in lay.bands)


def overlaps(a, b):
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_label_goes_above_then_below_then_inside():
    taken = []
    first = overlay.place((100, 100, 30, 40), (40, 20), taken, (640, 480))
    assert first[1] + first[3] <= 100  # above
    taken.append(first)
    second = overlay.place((100, 100, 30, 40), (40, 20), taken, (640, 480))
    assert second[1] >= 140  # below
    taken.append(second)
    third = overlay.place((100, 100, 30, 40), (20, 20), taken, (640, 480))
    assert 100 <= third[1] and third[1] + third[3] <= 140  # inside
    crowded = overlay.place((100, 100, 30, 40), (40, 20), taken + [third], (640, 480))
    assert not any(overlaps(crowded, t) for t in taken + [third])  # stacked further out


def test_text_scales_with_the_frame():
    heights = {}
    for h in (240, 480, 960, 1920):
        lay = overlay.Drawn()
        box = (h // 4, h // 3, h // 12, h // 8)
        overlay.draw(_paper(h, h * 4 // 3), _result([box]), 30.0, {"detect": 1.0}, layout=lay)
        heights[h] = lay.labels[0][3]
    assert heights[480] >= 20  # 13-pixel capitals on a filled tag at 640x480
    assert 1.7 < heights[960] / heights[480] < 2.3 and 1.7 < heights[1920] / heights[960] < 2.3
    assert heights[240] >= 14  # never below a legible minimum


def test_numbers_get_their_own_box_and_text():
    boxes = [(200, 200, 30, 40), (234, 200, 30, 40), (268, 200, 30, 40)]
    n = Number("123", (200, 200, 98, 40), [0, 1, 2])
    single = Number("7", (500, 300, 30, 40), [3])
    res = _result(boxes + [(500, 300, 30, 40)], [1, 2, 3, 7], numbers=[n, single])
    lay = overlay.Drawn()
    out = overlay.draw(_paper(480, 640), res, 30.0, res.ms, layout=lay)
    assert len(lay.number_boxes) == 1 and len(lay.number_labels) == 1  # one-digit numbers get no box
    x, y, w, h = lay.number_boxes[0]
    for bx, by, bw, bh in boxes:
        assert x < bx and y < by and bx + bw < x + w and by + bh < y + h
    left_edge = out[y + h // 2, x]
    assert tuple(int(v) for v in left_edge) == overlay.NUMBER
    lx, ly, lw, lh = lay.number_labels[0]
    assert (out[ly:ly + lh, lx:lx + lw] == overlay.NUMBER).all(-1).mean() > 0.4  # the text's filled tag


def test_header_wraps_to_narrow_frames_and_readings_band():
    res = _result([(50, 100, 20, 30)], numbers=[Number("0", (50, 100, 20, 30), [0])])
    ms = {"capture": 1.0, "detect": 2.0, "normalize": 0.3, "classify": 0.4, "fit": 0.2}
    lay = overlay.Drawn()
    overlay.draw(_paper(480, 240), res, 30.0, ms, status="playing at 12 fps", layout=lay)
    wide = overlay.Drawn()
    overlay.draw(_paper(480, 640), res, 30.0, ms, layout=wide)
    assert lay.bands[0][3] > wide.bands[0][3]  # wrapped onto more lines
    assert lay.bands[1][1] + lay.bands[1][3] == 480  # readings at the bottom


def test_banner_and_grey_frames():
    img = overlay.draw(np.full((480, 640), 200, np.uint8), _result([]), 10.0, {})
    assert img.shape == (480, 640, 3)
    paused = overlay.banner(img, "PAUSED", "space resume", width=320)
    changed = np.argwhere((paused != img).any(-1))
    assert changed[:, 1].mean() < 200  # centred on the first 320 columns
    assert (paused[:, 400:] == img[:, 400:]).all()


def test_debug_view_labels_every_crop():
    mask = np.zeros((240, 320), np.uint8)
    cv2.circle(mask, (100, 100), 30, 255, -1)
    for n in (1, 7, 30):
        crops = np.zeros((n, 28, 28), np.uint8)
        crops[:, 8:20, 12:16] = 255
        probs = np.full((n, 10), 0.01)
        probs[:, 1] = 0.91
        res = FrameResult([], [], {}, detections=SimpleNamespace(mask=mask), normalized=crops, probs=probs)
        view = overlay.debug_view(res, 480)
        assert view.shape[0] == 480 and view.shape[1] > 640  # the mask at the frame's height, and the grid
        grid = view[:, 640:]
        white = (grid == 255).all(-1)
        assert white.sum() >= n * 48 * 2 * 2  # every crop shown (a 12x4 stroke), upscaled at least 2x
    res = FrameResult([], [], {}, detections=SimpleNamespace(mask=mask), normalized=None)
    assert overlay.debug_view(res, 480).shape[0] == 480


def test_window_size_fits_the_screen():
    assert window.fit(640, 480, (1920, 1080)) == (640, 480)
    w, h = window.fit(4000, 3000, (1920, 1080))
    assert h <= 1080 * 0.9 and abs(w / h - 4 / 3) < 0.01
    assert window.fit(200, 150, (1920, 1080)) == (640, 480)  # a small photo is shown bigger
    assert window.fit(1628, 480, (1280, 800))[0] <= 1280


def test_screen_size_from_the_environment(monkeypatch):
    monkeypatch.setenv("EDGE_DIGITS_SCREEN", "1280x800")
    assert window.screen_size() == (1280, 800)
    monkeypatch.setenv("EDGE_DIGITS_SCREEN", "big")
    with pytest.raises(EdgeDigitsError, match="WIDTHxHEIGHT"):
        window.screen_size()
    monkeypatch.delenv("EDGE_DIGITS_SCREEN")
    monkeypatch.delenv("DISPLAY", raising=False)
    if not window.sys.platform == "win32":
        assert window.screen_size() == window.DEFAULT_SCREEN


def test_snapshots_folder_made_on_first_and_written_atomically(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    snaps = window.Snapshots()
    assert snaps.folder.parent == tmp_path / "snapshots" or snaps.folder.parent.name == "snapshots"
    assert not (tmp_path / "snapshots").exists()  # nothing until the first snapshot
    img = _paper(48, 64)
    a = snaps.save(img, "frame-000003")
    b = snaps.save(img, "frame-000003")
    assert a.name == "frame-000003.png" and b.name == "frame-000003-2.png"
    assert cv2.imread(str(a)).shape == img.shape
    assert sorted(p.name for p in snaps.folder.iterdir()) == sorted([a.name, b.name])  # no partial file left
    blocked = tmp_path / "file"
    blocked.write_text("x")
    with pytest.raises(EdgeDigitsError):
        window.Snapshots(blocked / "sub").save(img, "x")


class FakeHighgui:
    """cv2's window calls, scripted: keys to return from waitKey (None: no key), a close after n polls."""

    def __init__(self, monkeypatch, keys, close_after=None):
        self.keys, self.polls, self.close_after, self.shown, self.sizes = list(keys), 0, close_after, [], []
        m = window.cv2
        monkeypatch.setattr(m, "namedWindow", lambda *a: None)
        monkeypatch.setattr(m, "resizeWindow", lambda name, w, h: self.sizes.append((w, h)))
        monkeypatch.setattr(m, "imshow", lambda name, img: self.shown.append(img.copy()))
        monkeypatch.setattr(m, "getWindowProperty", lambda *a: 0.0 if self.closed() else 1.0)
        monkeypatch.setattr(m, "waitKey", self.wait_key)

    def closed(self):
        return self.close_after is not None and self.polls >= self.close_after

    def wait_key(self, ms):
        self.polls += 1
        if self.keys:
            k = self.keys.pop(0)
            return -1 if k is None else ord(k) if isinstance(k, str) else k
        time.sleep(ms / 1e3)
        return -1


def _render_calls():
    calls = []

    def render(debug):
        calls.append(debug)
        return _paper(480, 1200 if debug else 640)
    return render, calls


def test_still_image_keys_act_on_the_image_on_screen(monkeypatch):
    hg = FakeHighgui(monkeypatch, [None, "d", None, "s", "d", "x"])
    render, calls = _render_calls()
    snaps = []
    w = window.Window(screen=(1920, 1080))
    assert w.interact(render, hold=True, ms=1, snapshot=snaps.append) is True  # x moves on
    assert calls == [False, True, False]  # d redrew the same image with, then without, the debug view
    assert len(snaps) == 1 and snaps[0].shape[1] == 1200  # s saved what was on screen, and stayed
    assert hg.sizes == [(640, 480), (1200, 480), (640, 480)]  # the window follows the view's size
    hg.keys = ["q"]
    assert w.interact(render, hold=True, ms=1, snapshot=snaps.append) is False


def test_pause_shows_paused_and_close_button_quits(monkeypatch):
    hg = FakeHighgui(monkeypatch, [" ", None, None, "s", " "])
    render, _ = _render_calls()
    w = window.Window(screen=(1920, 1080))
    assert w.interact(render, hold=False, ms=1, snapshot=lambda v: None, frame_w=640) is True
    plain, paused, resumed = hg.shown[0], hg.shown[1], hg.shown[-1]
    assert (paused != plain).any() and (resumed == plain).all()
    hg = FakeHighgui(monkeypatch, [], close_after=3)
    assert w.interact(render, hold=True, ms=1, snapshot=lambda v: None) is False  # waiting, then closed
    hg = FakeHighgui(monkeypatch, [], close_after=0)
    assert w.interact(render, hold=False, ms=1, snapshot=lambda v: None) is False  # playing, then closed
    hg = FakeHighgui(monkeypatch, [])
    t0 = time.perf_counter()
    assert w.interact(render, hold=False, ms=120, snapshot=lambda v: None) is True  # no key: the frame's time
    assert time.perf_counter() - t0 >= 0.1


def test_headless_realtime_paces_a_video_file():
    from typer.testing import CliRunner

    from edge_digits.cli import app

    demo = str(Path(__file__).resolve().parents[1] / "data" / "demo.mp4")
    t0 = time.perf_counter()
    r = CliRunner().invoke(app, ["camera", "--source", demo, "--headless", "--realtime", "--max-frames", "7"])
    assert r.exit_code == 0, r.output
    assert time.perf_counter() - t0 >= 6 / 12  # 7 frames of a 12 fps clip: at least half a second
