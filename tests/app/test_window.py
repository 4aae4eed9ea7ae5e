"""The camera window as a user meets it: `edge-digits camera` run with the windowed OpenCV (opencv-python)
under Xvfb, keys sent with xdotool, the screen read back with ImageMagick's `import`.

Needs Xvfb, xdotool and ImageMagick (apt-get install xvfb xdotool imagemagick) and a Python whose OpenCV has
a GUI: $EDGE_DIGITS_GUI_PYTHON, else /tmp/guivenv/bin/python (python3 -m venv /tmp/guivenv; pip install
opencv-python==<the headless wheel's version> numpy typer rich ai-edge-litert onnxruntime). The project's own
environment has opencv-python-headless, which cannot open a window, so these tests skip where any is missing."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "tests" / "data" / "demo.mp4"
GUI_PYTHON = os.environ.get("EDGE_DIGITS_GUI_PYTHON", "/tmp/guivenv/bin/python")
RUN = "import sys; sys.argv[0] = 'edge-digits'; from edge_digits.cli import app; app()"


def _why_not() -> str | None:
    missing = [t for t in ("Xvfb", "xdotool", "import") if not shutil.which(t)]
    if missing:
        return f"needs {', '.join(missing)} (apt-get install xvfb xdotool imagemagick)"
    if not Path(GUI_PYTHON).is_file():
        return f"needs a Python with the windowed OpenCV (opencv-python) at {GUI_PYTHON} or $EDGE_DIGITS_GUI_PYTHON"
    p = subprocess.run([GUI_PYTHON, "-c", "import cv2, re; i = cv2.getBuildInformation(); "
                        "print(re.search(r'GUI:\\s*(\\S+)', i).group(1) if 'GUI:' in i else 'NONE')"],
                       capture_output=True, text=True, timeout=60)
    if p.returncode or p.stdout.strip() in ("", "NONE"):
        return f"{GUI_PYTHON}: its OpenCV has no GUI (opencv-python-headless?) {p.stderr[-200:]}"
    return None


WHY = _why_not()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"window test skipped: {WHY}")


@pytest.fixture(scope="module")
def display():
    r, w = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        num = f.readline().strip()
    if not num:
        xvfb.kill()
        pytest.skip("window test skipped: Xvfb did not start")
    yield f":{num}"
    xvfb.terminate()
    xvfb.wait(10)


class App:
    """edge-digits camera in the GUI Python on the Xvfb display."""

    def __init__(self, display, *args):
        self.env = {**os.environ, "DISPLAY": display, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "xcb"}
        self.env.pop("EDGE_DIGITS_SCREEN", None)
        self.p = subprocess.Popen([GUI_PYTHON, "-c", RUN, "camera", *args], env=self.env, cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.win = None

    def x(self, *cmd) -> str:
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=30).stdout

    def window(self, timeout=60) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.p.poll() is None:
            ids = self.x("xdotool", "search", "--name", "^edge-digits$").split()
            for i in ids:  # the one with a size (Qt also makes small helper windows)
                if self.geometry(i)[0] > 1:
                    self.win = i
                    return i
            time.sleep(0.1)
        self.p.kill()
        raise AssertionError(f"no window appeared: {self.p.communicate()[1][-2000:]}")

    def geometry(self, win=None) -> tuple[int, int]:
        g = dict(line.split("=", 1) for line in
                 self.x("xdotool", "getwindowgeometry", "--shell", win or self.win).split() if "=" in line)
        return int(g.get("WIDTH", 0)), int(g.get("HEIGHT", 0))

    def shot(self) -> np.ndarray:
        png = subprocess.run(["import", "-window", self.win, "png:-"], env=self.env, capture_output=True,
                             timeout=30).stdout
        img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        assert img is not None, "import gave no image"
        return img

    def until(self, check, timeout: float = 15.0) -> bool:
        """Polls check() until it holds: a loaded machine may take seconds to show the next image, and a
        fixed sleep made this test fail on CI while it passed here."""
        end = time.monotonic() + timeout
        while not check():
            if time.monotonic() > end or self.p.poll() is not None:
                return False
            time.sleep(0.2)
        return True

    def key(self, k: str, wait: float = 0.8) -> None:
        self.x("xdotool", "key", "--window", self.win, k)
        time.sleep(wait)

    def close_button(self) -> None:
        """What a window manager does when the close button is pressed: WM_DELETE_WINDOW to the window."""
        x = ctypes.CDLL(ctypes.util.find_library("X11"))
        x.XOpenDisplay.restype = ctypes.c_void_p
        x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x.XInternAtom.restype = ctypes.c_ulong
        x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
        x.XFlush.argtypes = x.XCloseDisplay.argtypes = [ctypes.c_void_p]

        class Msg(ctypes.Structure):
            _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                        ("display", ctypes.c_void_p), ("window", ctypes.c_ulong),
                        ("message_type", ctypes.c_ulong), ("format", ctypes.c_int), ("data", ctypes.c_long * 5),
                        ("pad", ctypes.c_long * 12)]
        d = x.XOpenDisplay(self.env["DISPLAY"].encode())
        assert d, "cannot open the Xvfb display"
        m = Msg(type=33, window=int(self.win), format=32,  # 33: ClientMessage
                message_type=x.XInternAtom(d, b"WM_PROTOCOLS", 0))
        m.data[0] = x.XInternAtom(d, b"WM_DELETE_WINDOW", 0)
        x.XSendEvent(d, int(self.win), 0, 0, ctypes.byref(m))
        x.XFlush(d)
        x.XCloseDisplay(d)

    def finish(self, timeout=30) -> tuple[int, str]:
        try:
            _, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            raise AssertionError(f"still running after {timeout}s: {self.p.communicate()[1][-2000:]}")
        return self.p.returncode, err


def _banner_pixels(img: np.ndarray) -> int:
    """Pixels of the PAUSED banner's yellow text (BGR 0, 220, 255) in the middle of the frame."""
    h, w = img.shape[:2]
    mid = img[h // 3:2 * h // 3, w // 6:5 * w // 6].astype(int)
    return int(((abs(mid[..., 0] - 0) < 40) & (abs(mid[..., 1] - 220) < 40) & (mid[..., 2] > 215)).sum())


def test_video_window_pause_debug_snapshot_quit(display, tmp_path):
    snaps = tmp_path / "snaps"
    app = App(display, "--source", str(DEMO), "--snapshot-dir", str(snaps))
    app.window()
    time.sleep(0.6)
    assert app.geometry() == (640, 480)  # the frame's own size, not 400x300
    playing = app.shot()
    assert playing.shape[:2] == (480, 640)
    assert _banner_pixels(playing) == 0
    app.key("space", 0)
    assert app.until(lambda: _banner_pixels(app.shot()) > 200), "no PAUSED on screen"
    time.sleep(0.3)
    paused = app.shot()
    time.sleep(0.8)
    still_paused = app.shot()
    assert (paused == still_paused).all(), "the video went on while paused"
    assert (paused[180:300, 160:480] != playing[180:300, 160:480]).any(-1).mean() > 0.3
    app.key("d", 0)
    assert app.until(lambda: app.geometry()[0] > 1.5 * 640)
    time.sleep(0.3)
    w, h = app.geometry()
    assert w > 1.5 * 640 and h == 480  # the debug view beside the frame
    debug = app.shot()
    assert debug.shape[1] == w and _banner_pixels(debug[:, :640]) > 200  # still paused, the banner on the frame
    app.key("s")
    app.key("q", 0)
    rc, err = app.finish()
    assert rc == 0, err
    saved = list(snaps.glob("*.png"))
    assert len(saved) == 1 and f"saved {saved[0]}" in err
    assert cv2.imread(str(saved[0])).shape[1] == w  # what was on screen
    frames = int(err.split("frames ")[-1].split(",")[0])
    assert frames < 48  # q ended it before the clip's 48 frames


def test_video_plays_at_its_own_rate_and_close_button_quits(display, tmp_path):
    app = App(display, "--source", str(DEMO), "--snapshot-dir", str(tmp_path))
    app.window()
    t0 = time.monotonic()
    rc, err = app.finish()
    played = time.monotonic() - t0
    assert rc == 0 and "frames 48" in err, err
    assert played > 3.3, f"48 frames at 12 fps took {played:.1f}s"  # 4 s, not the 0.5 s of processing speed
    app = App(display, "--source", str(DEMO), "--snapshot-dir", str(tmp_path))
    app.window()
    time.sleep(1.0)
    app.close_button()
    rc, err = app.finish(15)
    assert rc == 0, err
    assert int(err.split("frames ")[-1].split(",")[0]) < 40, err


def test_still_images_wait_and_take_every_key(display, tmp_path):
    cap = cv2.VideoCapture(str(DEMO))
    folder = tmp_path / "pages"
    folder.mkdir()
    for i in range(30):
        ok, f = cap.read()
        if i in (0, 29):
            cv2.imwrite(str(folder / f"page{i}.png"), f)
    snaps = tmp_path / "snaps"
    app = App(display, "--source", str(folder), "--snapshot-dir", str(snaps))
    app.window()
    time.sleep(1.5)
    assert app.p.poll() is None  # waits on the first image
    first = app.shot()
    app.key("d", 0)
    assert app.until(lambda: app.geometry()[0] > 1.5 * 640)  # the debug view of the image on screen
    assert app.p.poll() is None
    app.key("s", 0)
    assert app.until((snaps / "page0.png").is_file)
    app.key("space", 0)

    def next_image_shown() -> bool:
        shot = app.shot()
        return shot.shape[1] > 1.5 * 640 and (shot[:, :640] != first[:, :640]).any()
    assert app.until(next_image_shown)  # the next image, debug still on
    assert app.p.poll() is None
    app.key("q", 0)
    rc, err = app.finish()
    assert rc == 0 and "frames 2" in err, err
