"""The camera window: opened at the frame's size (scaled down to fit the screen), keys, pause, the close
button, and snapshots. The drawing itself is edge_digits.app.overlay; this is the part that needs a display."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from edge_digits.app.overlay import banner
from edge_digits.config import EdgeDigitsError
from edge_digits.core.files import atomic_file

NAME = "edge-digits"
# scaled by OpenCV to the window's size, the aspect ratio kept, without Qt's toolbar and status bar
FLAGS = cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | getattr(cv2, "WINDOW_GUI_NORMAL", 0)
DEFAULT_SCREEN = (1920, 1080)
MIN_HEIGHT = 480  # a smaller frame (a little photo) is shown scaled up to this height
QUIT, NONE = -2, -1
PAUSE_HELP = "space resume  s snapshot  d debug  q quit"


def screen_size() -> tuple[int, int]:
    """The screen's size: $EDGE_DIGITS_SCREEN (e.g. 1280x800) when set, else what X11 (through libX11) or
    Windows says, else 1920x1080. OpenCV has no call for it."""
    env = os.environ.get("EDGE_DIGITS_SCREEN", "")
    if env:
        try:
            w, h = (int(v) for v in env.lower().split("x"))
            if w > 0 and h > 0:
                return w, h
        except ValueError:
            pass
        raise EdgeDigitsError(f"EDGE_DIGITS_SCREEN={env!r}: expected WIDTHxHEIGHT, e.g. 1280x800")
    try:
        if sys.platform == "win32":
            u = ctypes.windll.user32  # type: ignore[attr-defined]
            return int(u.GetSystemMetrics(0)), int(u.GetSystemMetrics(1))
        if os.environ.get("DISPLAY") and (lib := ctypes.util.find_library("X11")):
            x = ctypes.CDLL(lib)
            x.XOpenDisplay.restype = ctypes.c_void_p
            x.XOpenDisplay.argtypes = [ctypes.c_char_p]
            for f in (x.XDefaultScreen, x.XDisplayWidth, x.XDisplayHeight, x.XCloseDisplay):
                f.argtypes = [ctypes.c_void_p] + ([ctypes.c_int] if f in (x.XDisplayWidth, x.XDisplayHeight) else [])
            d = x.XOpenDisplay(None)
            if d:
                try:
                    s = x.XDefaultScreen(d)
                    w, h = int(x.XDisplayWidth(d, s)), int(x.XDisplayHeight(d, s))
                finally:
                    x.XCloseDisplay(d)
                if w > 0 and h > 0:
                    return w, h
    except (OSError, AttributeError):
        pass
    return DEFAULT_SCREEN


def fit(w: int, h: int, screen: tuple[int, int]) -> tuple[int, int]:
    """The window size for a w x h view: its own size, scaled down to fit the screen less room for the title
    bar and a panel, or scaled up when it is smaller than MIN_HEIGHT lines."""
    sw, sh = int(screen[0] * 0.95), int(screen[1] * 0.88)
    s = min(sw / w, sh / h, max(1.0, MIN_HEIGHT / h))
    return max(1, round(w * s)), max(1, round(h * s))


def available() -> bool:
    """False where no window can be shown: no display, or an OpenCV built without GUI (the headless wheel).
    Where it can, the window is created here, with its flags."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        cv2.namedWindow(NAME, FLAGS)
        return True
    except cv2.error:
        return False


class Snapshots:
    """PNG files in a folder named for the run (created on the first snapshot), written atomically."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder else Path("snapshots") / time.strftime("%Y%m%d-%H%M%S")

    def save(self, img: np.ndarray, name: str) -> Path:
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "frame"
        path, k = self.folder / f"{stem}.png", 1
        while path.exists():
            k += 1
            path = self.folder / f"{stem}-{k}.png"
        try:
            with atomic_file(path) as tmp:
                if not cv2.imwrite(str(tmp), img):
                    raise EdgeDigitsError(f"{path}: cannot write")
        except OSError as e:
            raise EdgeDigitsError(f"{path}: cannot write ({e.strerror})") from None
        return path


class Window:
    """One window: show() views, interact() for the keys after each frame."""

    def __init__(self, screen: tuple[int, int] | None = None):
        self.screen = screen or screen_size()
        self.size: tuple[int, int] | None = None
        self.debug = False
        self.shown = False

    def show(self, view: np.ndarray) -> None:
        size = fit(view.shape[1], view.shape[0], self.screen)
        if not self.shown:
            cv2.namedWindow(NAME, FLAGS)
        if size != self.size:
            cv2.resizeWindow(NAME, *size)
            self.size = size
        cv2.imshow(NAME, view)
        self.shown = True

    def closed(self) -> bool:
        """The window's close button was pressed (or the window is gone)."""
        try:
            return cv2.getWindowProperty(NAME, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def key(self, ms: float) -> int:
        """The key pressed within ms milliseconds (at least 1): its code, NONE, or QUIT when the window was
        closed. Waits in slices so that the close button is seen while waiting."""
        end = time.perf_counter() + ms / 1e3
        while True:
            left = (end - time.perf_counter()) * 1e3
            k = cv2.waitKey(max(1, min(50, round(left))))
            if k != -1:
                return k & 0xFF
            if self.closed():
                return QUIT
            if left <= 50:
                return NONE

    def wait(self) -> int:
        while (k := self.key(1e9)) == NONE:
            pass
        return k

    def interact(self, render: Callable[[bool], np.ndarray], hold: bool, ms: float,
                 snapshot: Callable[[np.ndarray], None], frame_w: int | None = None) -> bool:
        """Show render(debug) and handle the keys: q, Esc or the close button quit (returns False); d toggles
        the debug view, redrawn at once; s snapshots what is shown; space pauses (PAUSED on screen) until
        the next key, centred on the frame's frame_w columns. With hold (a still image) the window waits for a key, and any key other than q, d and
        s moves on; playing, it waits ms milliseconds (the video's own pace) for one."""
        view = render(self.debug)
        self.show(view)
        paused = False
        k = self.wait() if hold else self.key(ms)
        while True:
            if k == QUIT or k in (ord("q"), 27):
                return False
            if k == ord("s"):
                snapshot(view)
            elif k == ord("d"):
                self.debug = not self.debug
                view = render(self.debug)
                self.show(banner(view, "PAUSED", PAUSE_HELP, frame_w) if paused else view)
            elif k == ord(" ") and not hold and not paused:
                paused = True
                self.show(banner(view, "PAUSED", PAUSE_HELP, frame_w))
            elif k != NONE and (hold or paused):
                if paused:
                    self.show(view)
                return True
            if not (hold or paused):
                return True
            k = self.wait()

    def close(self) -> None:
        try:
            cv2.destroyAllWindows()
            cv2.waitKey(1)
        except cv2.error:
            pass
