"""`edge-digits camera` and `edge-digits predict` through the CLI, on scenes built from the bundled sample."""
import json
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edge_digits.data import synth
from edge_digits.cli import app
from edge_digits.data.mnist import load_sample

cli = CliRunner()


@pytest.fixture(scope="module")
def page():
    d = load_sample()
    rng = np.random.default_rng(5)
    while True:  # a page with a number on it, digits big enough to read in every frame
        p = synth.make_page(d.x_test, d.y_test, rng, min_height=30)
        if len(p.labels) >= 4:
            return p


@pytest.fixture(scope="module")
def video(tmp_path_factory, page):
    path = tmp_path_factory.mktemp("video") / "shaky.avi"
    frames = synth.shake(page, 20, seed=3)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    for f, _ in frames:
        w.write(f)
    w.release()
    return path, frames


def _matched(boxes, labels, found):
    ok = 0
    for b, label in zip(boxes, labels):
        best = max(found, key=lambda d: synth.iou(b, d["box"]), default=None)
        ok += best is not None and synth.iou(b, best["box"]) >= 0.5 and best["label"] == label
    return ok


@pytest.mark.parametrize("detector", ["rules", "learned"])
def test_camera_headless_json_on_video(video, page, detector):
    path, frames = video
    r = cli.invoke(app, ["camera", "--source", str(path), "--headless", "--json", "--detector", detector])
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == len(frames)
    recs = [json.loads(line) for line in lines]  # stdout holds JSON and nothing else
    assert [rec["frame"] for rec in recs] == list(range(len(frames)))
    assert set(recs[0]["ms"]) >= {"capture", "detect", "classify", "total"}
    read_right = sum(_matched(boxes, page.labels, rec["digits"]) for rec, (_, boxes) in zip(recs, frames))
    assert read_right >= 0.9 * len(page.labels) * len(frames)
    assert all("numbers" in rec for rec in recs)
    # smoothed over time, the readings of the last frames are the page's numbers
    assert sorted(recs[-1]["readings"]) == sorted(page.readings)
    assert "frames 20" in r.stderr and "p99" in r.stderr


def test_camera_record_and_images(tmp_path, video, page):
    path, _ = video
    out = tmp_path / "annotated.avi"
    r = cli.invoke(app, ["camera", "--source", str(path), "--headless", "--record", str(out), "--max-frames", "5"])
    assert r.exit_code == 0, r.stderr
    assert out.is_file() and not list(tmp_path.glob(".*partial*"))
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    folder = tmp_path / "pages"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), page.image)
    (folder / "b.png").write_text("not an image")
    r = cli.invoke(app, ["camera", "--source", str(folder), "--headless", "--json"])
    assert r.exit_code == 1, r.stderr  # an unreadable image: exit 1, like predict
    assert len(r.stdout.splitlines()) == 1 and "skipped" in r.stderr


def test_camera_without_display_falls_back_to_headless(video, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    r = cli.invoke(app, ["camera", "--source", str(video[0]), "--max-frames", "2"])
    assert r.exit_code == 0 and "running headless" in r.stderr


@pytest.mark.parametrize("source, message", [
    ("57", "camera 57 does not open"),
    ("no/such/video.mp4", "no such camera index, file"),
])
def test_camera_bad_source(source, message):
    r = cli.invoke(app, ["camera", "--source", source, "--headless"])
    assert r.exit_code == 2
    assert message in r.stderr and "Traceback" not in r.output
    if source == "57":
        assert "indices that open" in r.stderr or "no camera opens" in r.stderr


def test_camera_garbage_video(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00garbage" * 100)
    r = cli.invoke(app, ["camera", "--source", str(bad), "--headless"])
    assert r.exit_code == 2 and "cannot open" in r.stderr


def _png_header(w, h):
    ihdr = b"IHDR" + w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + ihdr + zlib.crc32(ihdr).to_bytes(4, "big")


@pytest.mark.parametrize("detector", ["rules", pytest.param("learned", marks=pytest.mark.xfail(
    strict=True, reason="known shortfall (benchmarks/camera.md): one large thick digit alone in a photo is "
                        "found as pieces of its stroke, not as one digit; its training pages hold few such"))])
def test_predict_photo_mnist_and_garbage(tmp_path, page, detector):
    d = load_sample()
    seven = d.x_test[int(np.flatnonzero(d.y_test == 7)[0])]
    cv2.imwrite(str(tmp_path / "mnist7.png"), seven)
    # "does it read my own handwriting?": one digit on a sheet of paper, photographed
    photo = np.full((600, 800, 3), (200, 215, 225), np.uint8)
    big = cv2.resize(255 - seven, (280, 280), interpolation=cv2.INTER_CUBIC)
    photo[150:430, 260:540] = np.minimum(photo[150:430, 260:540], big[..., None] * 0.85 + 20).astype(np.uint8)
    photo = cv2.GaussianBlur(photo, (5, 5), 0)
    cv2.imwrite(str(tmp_path / "photo7.jpg"), photo)
    cv2.imwrite(str(tmp_path / "page.png"), page.image)
    (tmp_path / "text.png").write_text("hello, not a png")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "huge.png").write_bytes(_png_header(40000, 40000) + b"\x00" * 64)
    r = cli.invoke(app, ["predict", "--json", "--detector", detector, str(tmp_path / "mnist7.png"), str(tmp_path / "photo7.jpg"),
                         str(tmp_path / "page.png"), str(tmp_path / "text.png"), str(tmp_path / "empty.png"),
                         str(tmp_path / "huge.png"), str(tmp_path / "missing.png")])
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    recs = {Path(rec["path"]).name: rec for rec in map(json.loads, r.stdout.splitlines())}
    assert [dd["label"] for dd in recs["mnist7.png"]["digits"]] == [7]
    assert [dd["label"] for dd in recs["photo7.jpg"]["digits"]] == [7]
    assert _matched(page.boxes, page.labels, recs["page.png"]["digits"]) >= len(page.labels) - 1
    assert "not an image" in recs["text.png"]["error"]
    assert "empty file" in recs["empty.png"]["error"]
    assert "40000x40000" in recs["huge.png"]["error"]
    assert "no such file" in recs["missing.png"]["error"]
    assert r.stderr.count("error: ") == 4


def test_predict_tiles_find_small_digits_in_a_big_photo(tmp_path, page):
    """The page as a small note in a 2000x1500 photo: one pass sees its digits at a sixth of their size,
    6-13 px tall; the tiles see them at 2x and 4x that."""
    photo = np.full((1500, 2000, 3), np.array(page.image[5, 5], np.uint8), np.uint8)
    photo[500:980, 700:1340] = page.image
    cv2.imwrite(str(tmp_path / "far.png"), photo)
    boxes = page.boxes + np.array([700, 500, 0, 0])
    got = {}
    for flag in ("--no-tiles", "--tiles"):
        r = cli.invoke(app, ["predict", "--json", flag, str(tmp_path / "far.png")])
        assert r.exit_code == 0, r.output
        rec = json.loads(r.stdout)
        got[flag] = _matched(boxes, page.labels, rec["digits"])
        assert {"digits", "numbers", "readings"} <= set(rec)
    assert got["--tiles"] >= len(page.labels) - 1 and got["--tiles"] > got["--no-tiles"], got


def test_camera_tiles_find_small_digits_in_a_far_page(tmp_path, page):
    """A camera frame with the page far away (a 1920x1440 frame: the net's one pass sees the page's
    digits at a sixth of their size): --tiles reads more of them than the one pass, frame after frame."""
    frame = np.full((1440, 1920, 3), np.array(page.image[5, 5], np.uint8), np.uint8)
    frame[480:960, 640:1280] = page.image
    path = tmp_path / "far.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (1920, 1440))
    for _ in range(3):
        w.write(frame)
    w.release()
    boxes = page.boxes + np.array([640, 480, 0, 0])
    got = {}
    for flag in ("--no-tiles", "--tiles"):
        r = cli.invoke(app, ["camera", "--source", str(path), "--headless", "--json", "--no-smooth", flag])
        assert r.exit_code == 0, r.output
        recs = [json.loads(line) for line in r.stdout.splitlines()]
        assert len(recs) == 3
        got[flag] = sum(_matched(boxes, page.labels, rec["digits"]) for rec in recs)
    assert got["--tiles"] >= 3 * (len(page.labels) - 1) and got["--tiles"] > got["--no-tiles"], got


def test_camera_reads_an_hd_frame_at_2x_by_default_and_a_vga_one_in_one_pass(tmp_path, page):
    """A 1920x1080 webcam frame with the page at its own size: by default the camera also reads it in tiles
    at 2x (the one pass sees it at a sixth), and finds more than --no-tiles; a 640x480 frame gets at most
    SMALL_TILES tiles (vision/tiles: near small digits only)."""
    frame = np.full((1080, 1920, 3), np.array(page.image[5, 5], np.uint8), np.uint8)
    frame[300:780, 640:1280] = page.image
    path = tmp_path / "hd.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (1920, 1080))
    for _ in range(3):
        w.write(frame)
    w.release()
    boxes = page.boxes + np.array([640, 300, 0, 0])
    got = {}
    for flags in ([], ["--no-tiles"]):
        r = cli.invoke(app, ["camera", "--source", str(path), "--headless", "--json", "--no-smooth", *flags])
        assert r.exit_code == 0, r.output
        got[tuple(flags)] = sum(_matched(boxes, page.labels, json.loads(line)["digits"]) for line in r.stdout.splitlines())
    assert got[()] >= 3 * (len(page.labels) - 1) and got[()] > got[("--no-tiles",)], got
    from edge_digits.vision.detector import AUTO, load_detector

    det = load_detector(threads=1, tiles=AUTO)
    calls = [0]
    run = det.net.run
    det.net.run = lambda x: (calls.__setitem__(0, calls[0] + 1), run(x))[1]
    det.find(cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY))
    assert calls[0] <= 1 + det.small_tiles  # 640x480: the one pass, and 2x tiles only near small digits


def test_predict_folder_and_glob(tmp_path, page):
    for k in range(2):
        cv2.imwrite(str(tmp_path / f"p{k}.png"), page.image)
    r = cli.invoke(app, ["predict", str(tmp_path)])
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 2
    r = cli.invoke(app, ["predict", str(tmp_path / "*.png"), "--json"])
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 2
    r = cli.invoke(app, ["predict", str(tmp_path / "*.gif")])
    assert r.exit_code == 1 and "no such file" in r.stderr


class _Flaky:
    """A capture that gives `good` frames, then fails every read, like a camera pulled out."""

    def __init__(self, frames, good, interrupt=False):
        self.frames, self.good, self.n, self.interrupt = frames, good, 0, interrupt

    def read(self):
        self.n += 1
        if self.n <= self.good:
            return True, self.frames[(self.n - 1) % len(self.frames)][0]
        if self.interrupt:
            raise KeyboardInterrupt
        return False, None

    def isOpened(self):
        return True

    def get(self, prop):
        return 10.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self):
        pass


def _live_source(video, cap, monkeypatch):
    from edge_digits.app import camera, sources

    src = sources.Source(str(video[0]))
    src.cap, src.live, src.target = cap, True, 0
    monkeypatch.setattr(sources.time, "sleep", lambda s: None)
    monkeypatch.setattr(sources.cv2, "VideoCapture", lambda *a: type("Dead", (), {"isOpened": lambda self: False,
                                                                               "release": lambda self: None})())
    return camera, src


def test_camera_lost_mid_stream_reconnects_then_exits_cleanly(video, monkeypatch):
    from edge_digits import runtime as runtimes

    camera, src = _live_source(video, _Flaky(video[1], good=4), monkeypatch)
    import io

    out, err = io.StringIO(), io.StringIO()
    s = camera.run(src, runtimes.load(threads=1), headless=True, json_out=True, out=out, err=err)
    from edge_digits.app.sources import MAX_BAD_READS, RECONNECT_TRIES
    assert s.lost and s.frames == 4 and s.skipped == MAX_BAD_READS
    assert err.getvalue().count("reconnecting") == RECONNECT_TRIES
    assert "frames 4" in err.getvalue() and len(out.getvalue().splitlines()) == 4


def test_ctrl_c_finishes_the_recording(tmp_path, video, monkeypatch):
    from edge_digits import runtime as runtimes

    camera, src = _live_source(video, _Flaky(video[1], good=3, interrupt=True), monkeypatch)
    import io

    err = io.StringIO()
    rec = tmp_path / "rec.avi"
    monkeypatch.undo()  # the recorder needs the real VideoWriter; the capture is already the fake
    s = camera.run(src, runtimes.load(threads=1), headless=True, record=rec, err=err)
    assert s.frames == 3 and "interrupted" in err.getvalue()
    assert rec.is_file() and int(cv2.VideoCapture(str(rec)).get(cv2.CAP_PROP_FRAME_COUNT)) == 3


def test_overlay_and_debug_view(page):
    from edge_digits.app import overlay
    from edge_digits import runtime as runtimes
    from edge_digits.vision import pipeline as vision

    res = vision.read_frame(page.image, runtimes.load(threads=1), debug=True)
    shown = overlay.draw(page.image, res, 30.0, {"capture": 1.0, **res.ms})
    assert shown.shape == page.image.shape and (shown != page.image).any()
    view = overlay.debug_view(res, shown.shape[0])
    assert view.shape[0] == shown.shape[0] and view.shape[1] > shown.shape[1]


def test_predict_box_fit_on_by_default_and_off_on_request(tmp_path, page, monkeypatch):
    from edge_digits.vision.rules import boxfit

    loads = []
    real = boxfit.load
    monkeypatch.setattr(boxfit, "load", lambda *a, **k: loads.append(1) or real(*a, **k))
    cv2.imwrite(str(tmp_path / "p.png"), page.image)
    on = cli.invoke(app, ["predict", str(tmp_path / "p.png"), "--json", "--detector", "rules"])
    off = cli.invoke(app, ["predict", str(tmp_path / "p.png"), "--json", "--detector", "rules", "--no-box-fit"])
    learned = cli.invoke(app, ["predict", str(tmp_path / "p.png"), "--json"])  # the default: no box fit to load
    assert on.exit_code == off.exit_code == learned.exit_code == 0 and loads == [1]
    assert len(json.loads(on.stdout)["digits"]) >= 1 and len(json.loads(off.stdout)["digits"]) >= 1


def test_missing_box_fit_model_is_a_one_line_error(tmp_path, page, monkeypatch):
    from edge_digits import config

    monkeypatch.setattr(config, "boxfit_model", lambda: tmp_path / "gone" / "box-fit_int8.tflite")
    cv2.imwrite(str(tmp_path / "p.png"), page.image)
    r = cli.invoke(app, ["predict", str(tmp_path / "p.png"), "--detector", "rules"])
    assert r.exit_code == 2 and "box-fit_int8.tflite: no such model file" in r.stderr and "Traceback" not in r.stderr
    assert cli.invoke(app, ["predict", str(tmp_path / "p.png"), "--detector", "rules", "--no-box-fit"]).exit_code == 0


def test_missing_detector_model_is_a_one_line_error(tmp_path, page):
    cv2.imwrite(str(tmp_path / "p.png"), page.image)
    r = cli.invoke(app, ["predict", str(tmp_path / "p.png"), "--detector-model", str(tmp_path / "no.tflite")])
    assert r.exit_code == 2 and "no.tflite: no such model file" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    r = cli.invoke(app, ["predict", str(tmp_path / "p.png"), "--detector-model", str(bad)])
    assert r.exit_code == 2 and "bad.tflite" in r.stderr and "Traceback" not in r.stderr


def test_predict_a_12mp_jpeg_read_at_half_size_gives_boxes_of_the_photo(tmp_path, page):
    """A 4000x3000 JPEG is decoded at half size (its finest tiles need no more): the boxes come back in the
    photo's own pixels, on its digits."""
    big = cv2.resize(page.image, (2560, 1920), interpolation=cv2.INTER_CUBIC)
    photo = np.full((3000, 4000, 3), np.array(page.image[5, 5], np.uint8), np.uint8)
    photo[600:2520, 700:3260] = big
    cv2.imwrite(str(tmp_path / "phone.jpg"), photo, [cv2.IMWRITE_JPEG_QUALITY, 90])
    r = cli.invoke(app, ["predict", "--json", str(tmp_path / "phone.jpg")])
    assert r.exit_code == 0, r.output
    boxes = page.boxes * 4 + np.array([700, 600, 0, 0])
    assert _matched(boxes, page.labels, json.loads(r.stdout)["digits"]) >= len(page.labels) - 1
