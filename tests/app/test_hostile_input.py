"""What a user or a camera throws at camera and predict: bad indices, damaged videos, decompression bombs,
unwritable outputs, signals (issue 16). Each case ends in bounded time with one line and the right code."""
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edge_digits.app import images
from edge_digits.cli import app
from edge_digits.config import EdgeDigitsError

cli = CliRunner()
BIG = 30000


def _one_line_error(r, code=2, text=None):
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output and r.stderr.startswith("error: "), r.stderr
    if text:
        assert text in r.stderr, r.stderr


@pytest.mark.parametrize("src,text", [("-1", "out of range"), ("99999999999", "out of range"), ("64", "out of range"),
                                      ("", "--source is empty"), ("  ", "--source is empty")])
def test_camera_index_and_empty_source_refused(src, text):
    t = time.perf_counter()
    r = cli.invoke(app, ["camera", "--source", src, "--headless", "--no-box-fit"])
    _one_line_error(r, 2, text)
    assert time.perf_counter() - t < 10


@pytest.mark.parametrize("args,text", [(["--max-frames", "-1"], "--max-frames must be > 0"),
                                       (["--max-frames", "0"], "--max-frames must be > 0"),
                                       (["--min-confidence", "nan"], "finite"),
                                       (["--min-confidence", "inf"], "finite")])
def test_camera_numeric_options_refused(args, text):
    _one_line_error(cli.invoke(app, ["camera", "--source", "x.avi", "--headless", *args]), 2, text)


def _video(path, n=60, size=(160, 120)):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    rng = np.random.default_rng(0)
    for i in range(n):
        f = np.full((size[1], size[0], 3), 255, np.uint8)
        cv2.putText(f, str(i % 10), (40, 90), cv2.FONT_HERSHEY_SIMPLEX, 2.5, (0, 0, 0), 6)
        f[rng.integers(0, size[1]), :] = 128
        w.write(f)
    w.release()
    return path


def _camera_subprocess(args, timeout=60):
    return subprocess.run([sys.executable, "-m", "edge_digits.cli", "camera", "--headless", "--json", "--no-box-fit",
                           *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("damage", ["random-middle", "truncated", "zeroed-tail"])
def test_damaged_video_ends(tmp_path, damage):
    p = _video(tmp_path / "v.avi")
    data = bytearray(p.read_bytes())
    n = len(data)
    if damage == "random-middle":
        data[n // 3: 2 * n // 3] = np.random.default_rng(1).integers(0, 256, 2 * n // 3 - n // 3, dtype=np.uint8).tobytes()
    elif damage == "truncated":
        data = data[: n // 2]
    else:
        data[n // 2:] = bytes(n - n // 2)
    p.write_bytes(bytes(data))
    t = time.perf_counter()
    r = _camera_subprocess(["--source", str(p)])
    assert time.perf_counter() - t < 60
    assert r.returncode == 0, r.stderr
    frames = [json.loads(line)["frame"] for line in r.stdout.splitlines()]
    assert frames == list(range(len(frames))) and len(frames) <= 60  # nothing replayed, nothing forever
    assert "frames " in r.stderr.splitlines()[-1] and "Traceback" not in r.stderr


class _Cap:
    """A file capture: `good` frames, then reads that fail while the container claims frames remain,
    and a seek that lands back at frame 0 (what some backends do)."""

    def __init__(self, good=3, total=1000):
        self.good, self.total, self.at, self.reads = good, total, 0, 0

    def read(self):
        self.reads += 1
        if self.at < self.good:
            self.at += 1
            return True, np.full((60, 80, 3), 255, np.uint8)
        return False, None

    def get(self, prop):
        return {cv2.CAP_PROP_FRAME_COUNT: self.total, cv2.CAP_PROP_POS_FRAMES: self.at}.get(prop, 0.0)

    def set(self, prop, v):
        self.at = 0  # back to the first key frame: the old code replayed frames 0..2 forever

    def isOpened(self):
        return True

    def release(self):
        pass


def test_file_source_never_replays_or_loops(tmp_path):
    from edge_digits.app import sources

    src = sources.Source(str(_video(tmp_path / "v.avi", n=3)))
    src.cap = _Cap()
    seen, t = [], time.perf_counter()
    for _ in range(100_000):
        status, frame, name = src.read()
        if status == "end":
            break
        seen.append(status)
    assert status == "end" and seen.count("frame") == 3 and time.perf_counter() - t < 5
    assert len(seen) <= 3 + sources.MAX_BAD_FILE_READS


def _forged(kind):
    if kind == "tiff":
        return b"II*\x00" + struct.pack("<IH", 8, 2) + struct.pack("<HHII", 256, 4, 1, BIG) + \
            struct.pack("<HHII", 257, 4, 1, BIG) + b"\0" * 4
    if kind == "tiff-be":
        return b"MM\x00*" + struct.pack(">IH", 8, 2) + struct.pack(">HHIHxx", 256, 3, 1, BIG) + \
            struct.pack(">HHIHxx", 257, 3, 1, BIG) + b"\0" * 4  # SHORT values, left-justified
    if kind == "webp-vp8x":
        return b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8X" + struct.pack("<I", 10) + b"\0" * 4 + \
            (BIG - 1).to_bytes(3, "little") + (BIG - 1).to_bytes(3, "little")
    if kind == "webp-vp8l":
        return b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8L" + struct.pack("<IB", 5, 0x2F) + \
            struct.pack("<I", 15999 | (15999 << 14))
    if kind == "webp-vp8":
        return b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8 " + struct.pack("<I", 10) + b"\0\0\0\x9d\x01\x2a" + \
            struct.pack("<HH", 16000, 16000)
    if kind == "jpeg-big-app1":  # two 64 KiB APP1 segments before the frame header
        app1 = b"\xff\xe1" + struct.pack(">H", 65535) + b"\0" * 65533
        return b"\xff\xd8" + app1 + app1 + b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, BIG, BIG, 1) + b"\x01\x11\x00\xff\xd9"
    if kind == "gif":
        return b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\0" * 10
    if kind == "pgm":
        return b"P5\n# a comment\n30000 30000\n255\n" + b"\0" * 16
    if kind == "bmp":
        return b"BM" + b"\0" * 12 + struct.pack("<Iii", 40, BIG, -BIG) + b"\0" * 28
    if kind == "png":
        return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", BIG, BIG) + b"\x08\x02\0\0\0"
    raise ValueError(kind)


KINDS = ["tiff", "tiff-be", "webp-vp8x", "webp-vp8l", "webp-vp8", "jpeg-big-app1", "gif", "pgm", "bmp", "png"]
EXT = {"tiff": ".tif", "tiff-be": ".tif", "gif": ".gif", "pgm": ".pgm", "bmp": ".bmp", "png": ".png"}


@pytest.mark.parametrize("kind", KINDS)
def test_decompression_bombs_refused_before_decoding(tmp_path, kind, monkeypatch):
    p = tmp_path / f"bomb{EXT.get(kind, '.webp' if 'webp' in kind else '.jpg')}"
    p.write_bytes(_forged(kind))
    monkeypatch.setattr(images.cv2, "imdecode", lambda *a: pytest.fail("decoded a file its header refuses"))
    t = time.perf_counter()
    with pytest.raises(EdgeDigitsError, match="over the limit"):
        images.read_image(p)
    assert time.perf_counter() - t < 0.5


def test_bombs_through_predict_and_camera(tmp_path):
    for kind in ("tiff", "jpeg-big-app1"):
        (tmp_path / f"{kind}.{'tif' if kind == 'tiff' else 'jpg'}").write_bytes(_forged(kind))
    r = cli.invoke(app, ["predict", "--no-box-fit", str(tmp_path)])
    assert r.exit_code == 1 and r.stderr.count("over the limit") == 2 and "Traceback" not in r.output
    r = cli.invoke(app, ["camera", "--headless", "--no-box-fit", "--source", str(tmp_path / "tiff.tif")])
    assert r.exit_code == 1 and "over the limit" in r.stderr, r.output


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".tif", ".webp", ".pgm", ".ppm"])
def test_real_images_still_sized_and_read(tmp_path, ext):
    img = np.zeros((37, 53, 3), np.uint8)
    img[5:30, 10:40] = 200
    p = tmp_path / f"a{ext}"
    assert cv2.imwrite(str(p), img if ext != ".pgm" else img[..., 0])
    with open(p, "rb") as f:
        assert images.image_size(f, f.read(1 << 16)) == (53, 37)
    assert images.read_image(p).shape == (37, 53, 3)


def test_unsized_big_file_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_BYTES_UNSIZED", 1000)
    p = tmp_path / "x.hdr"
    p.write_bytes(b"#?RADIANCE\n" + b"\0" * 2000)
    with pytest.raises(EdgeDigitsError, match="no image size in its header"):
        images.read_image(p)


def test_camera_glob_with_unreadable_images_exits_1(tmp_path, sample):
    cv2.imwrite(str(tmp_path / "a.png"), np.full((60, 60, 3), 255, np.uint8))
    (tmp_path / "b.png").write_bytes(b"not a png")
    r = cli.invoke(app, ["camera", "--headless", "--no-box-fit", "--source", str(tmp_path / "*.png")])
    assert r.exit_code == 1 and "b.png" in r.stderr, r.output


def test_predict_json_streams_one_line_per_image(tmp_path):
    """Each image's line is out (and flushed) before the next image is read."""
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((60, 60, 3), 255, np.uint8))
    code = ("import sys, time\n"
            "from edge_digits.app import images\n"
            "real = images.read_image\n"
            "def slow(p, *a, **k):\n"
            "    if p.name == '2.png':\n"
            "        time.sleep(30)\n"
            "    return real(p, *a, **k)\n"
            "images.read_image = slow\n"
            "from edge_digits.cli import app\n"
            "sys.argv = ['edge-digits', 'predict', '--json', '--no-box-fit', sys.argv[1]]\n"
            "app()\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        lines = [p.stdout.readline(), p.stdout.readline()]  # would block 30 s if output waited for the end
        assert [json.loads(x)["path"].endswith(f"{i}.png") for i, x in enumerate(lines)] == [True, True]
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
        assert p.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    finally:
        p.kill()


def test_record_onto_a_folder_or_bad_place_refused(tmp_path):
    (tmp_path / "dir.avi").mkdir()
    (tmp_path / "file").write_text("x")
    for rec, text in [(tmp_path / "dir.avi", "is a folder"), (tmp_path / "file" / "x.avi", "does not exist"),
                      (tmp_path / "x.txt", "needs a .mp4")]:
        r = cli.invoke(app, ["camera", "--headless", "--no-box-fit", "--source", "x.avi", "--record", str(rec)])
        _one_line_error(r, 2, text)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_record_into_read_only_folder_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    r = cli.invoke(app, ["camera", "--headless", "--source", "x.avi", "--record", str(ro / "x.avi")])
    _one_line_error(r, 2, "not writable")


def test_two_recordings_to_one_name_keep_both(tmp_path):
    from edge_digits.app.camera import Recorder

    target = tmp_path / "same.avi"
    a, b = Recorder(target, 10), Recorder(target, 10)
    frame = np.zeros((48, 64, 3), np.uint8)
    a.write(frame)
    b.write(frame)
    assert a.tmp != b.tmp
    a.close()
    with pytest.raises(EdgeDigitsError, match="appeared while this run was recording"):
        b.close()
    kept = [f for f in tmp_path.iterdir() if f.suffix == ".avi"]
    assert len(kept) == 2 and not [f for f in tmp_path.iterdir() if f.name.startswith(".")]


def test_sigterm_finishes_the_recording(tmp_path):
    src = _video(tmp_path / "long.avi", n=400)
    rec = tmp_path / "rec.avi"
    p = subprocess.Popen([sys.executable, "-m", "edge_digits.cli", "camera", "--headless", "--json", "--no-box-fit",
                          "--source", str(src), "--record", str(rec)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(5):
            assert p.stdout.readline()
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    n = int(cv2.VideoCapture(str(rec)).get(cv2.CAP_PROP_FRAME_COUNT))
    assert 4 <= n < 400 and not [f for f in tmp_path.iterdir() if f.name.startswith(".")]


def test_summary_memory_is_flat():
    from edge_digits.app.camera import Summary

    s = Summary()
    for i in range(25_000):
        s.process_ms.append(float(i % 100))
        s.capture_ms.append(1.0)
        s.frames += 1
    s.wall_s = 1.0
    assert len(s.process_ms.values()) == 10_000 and s.process_ms.buf.nbytes == 80_000
    assert abs(s.process_ms.mean() - 49.5) < 1e-9 and "(last 10,000 frames)" in s.text()


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_reduced_decode_halves_the_photo_and_keeps_the_pixel_limit(tmp_path, ext):
    img = np.full((600, 800, 3), 230, np.uint8)
    cv2.circle(img, (400, 300), 100, (20, 20, 20), 12)
    p = tmp_path / f"a{ext}"
    assert cv2.imwrite(str(p), img)
    assert images.header_size(p) == (800, 600)
    half = images.read_image(p, grey=True, reduce=2)
    assert half.shape == (300, 400)
    assert abs(int(half[150, 250]) - 20) < 40 and abs(int(half[20, 20]) - 230) < 10  # the ring, the paper
    with pytest.raises(EdgeDigitsError, match="800x600 pixels is over the limit"):
        images.read_image(p, max_pixels=300_000, grey=True, reduce=2)  # the limit counts the photo's own pixels


@pytest.mark.parametrize("reduce", [1, 2])
def test_phone_photo_stored_sideways_is_read_upright(tmp_path, reduce):
    """A phone held upright stores its photo sideways with EXIF orientation 6: read as shown, at full or
    half size alike (the half size is chosen from the stored size, the same either way round)."""
    Image = pytest.importorskip("PIL.Image")
    shown = np.full((400, 300), 230, np.uint8)
    shown[20:60, 20:60] = 0  # a dark square at the top left of the photo as shown
    stored = cv2.rotate(shown, cv2.ROTATE_90_COUNTERCLOCKWISE)
    exif = Image.Exif()
    exif[0x0112] = 6
    p = tmp_path / "upright.jpg"
    Image.fromarray(stored).save(p, quality=95, exif=exif.tobytes())
    img = images.read_image(p, grey=True, reduce=reduce)
    assert img.shape == (400 // reduce, 300 // reduce)
    assert img[40 // reduce, 40 // reduce] < 60 and img[-40 // reduce, -40 // reduce] > 180


def test_a_truncated_12mp_jpeg_is_one_line_through_the_half_size_decode(tmp_path):
    """predict decodes a 12 MP photo at half size (its header says 4000x3000): cut short, it is still one
    clear line and exit 1, never a traceback."""
    img = np.full((3000, 4000, 3), 200, np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    p = tmp_path / "cut.jpg"
    p.write_bytes(buf.tobytes()[:600])  # the header and a little more
    assert images.header_size(p) == (4000, 3000)
    r = cli.invoke(app, ["predict", str(p)])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.stderr.strip().splitlines() == [f"error: {p}: not an image OpenCV can decode"], r.stderr
