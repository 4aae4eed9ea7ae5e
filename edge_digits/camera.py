"""The camera loop and still-image prediction: the only module that opens cameras, videos, windows and
video writers. The vision itself lives in vision.py; this is I/O, timing, drawing and fault handling."""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from . import images, vision
from .config import EdgeDigitsError
from .overlay import debug_view, draw
from .tracking import Tracker

RECONNECT_TRIES = 3
MAX_BAD_READS = 5  # in a row, from a live source, before we call it a disconnect
KEY_HELP = "q quit, space pause, s snapshot, d debug"


def _quiet_opencv() -> None:
    # probing camera indices makes the video backends print a warning per index that does not open
    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except AttributeError:
        pass


def _one_opencv_thread() -> None:
    # Each OpenCV call on a frame takes a tenth of a millisecond or less: handing it to a second thread
    # costs about what it saves, and on a busy machine it waits for a core. One thread gives the steadier
    # p99 (measured by scripts/bench_camera.py --opencv-threads) and leaves the other core to the runtime.
    cv2.setNumThreads(1)


def open_cameras(max_index: int = 8) -> list[int]:
    """The camera indices that open here."""
    _quiet_opencv()
    found = []
    for i in range(max_index):
        cap = cv2.VideoCapture(i)
        if cap.isOpened():
            found.append(i)
        cap.release()
    return found


class Source:
    """Frames from a camera index, a video file, a stream URL, or a list of image files."""

    def __init__(self, spec: str):
        self.spec, self.cap, self.files, self.live = spec, None, None, False
        p = Path(spec).expanduser()
        if spec.strip().lstrip("-").isdigit():
            self.index, self.live = int(spec), True
            self.target = self.index
            self._open_camera()
        elif p.is_dir() or any(c in spec for c in "*?[") or (p.is_file() and p.suffix.lower() in images.IMAGE_EXTS):
            self.files = [(label, f) for label, f in images.expand([spec])]
            if not any(f for _, f in self.files):  # a folder or glob with no image in it
                raise EdgeDigitsError(f"{spec}: no images found")
        elif p.is_file():
            self._open_capture(str(p), "video file")
        elif "://" in spec:
            self.live, self.target = True, spec
            self._open_capture(spec, "stream")
        else:
            raise EdgeDigitsError(f"{spec}: no such camera index, file, folder, glob or stream URL")
        self.pos = 0

    def _open_camera(self) -> None:
        _quiet_opencv()
        self.cap = cv2.VideoCapture(self.index)
        if not self.cap.isOpened():
            self.cap.release()
            ok = [i for i in open_cameras() if i != self.index]
            where = f"indices that open: {', '.join(map(str, ok))}" if ok else "no camera opens on this machine"
            raise EdgeDigitsError(f"camera {self.index} does not open ({where}); "
                                  "--source also takes a video file, image, folder, glob or stream URL")

    def _open_capture(self, what: str, kind: str) -> None:
        _quiet_opencv()
        self.cap = cv2.VideoCapture(what)
        if not self.cap.isOpened():
            raise EdgeDigitsError(f"{what}: cannot open as a {kind}")

    def reconnect(self, err=None) -> bool:
        self.cap.release()
        for attempt in range(1, RECONNECT_TRIES + 1):
            print(f"source lost; reconnecting ({attempt}/{RECONNECT_TRIES})", file=err or sys.stderr)
            time.sleep(0.5 * attempt)
            self.cap = cv2.VideoCapture(self.target)
            if self.cap.isOpened():
                return True
        return False

    def read(self) -> tuple[str, np.ndarray | None, str]:
        """('frame', image, name) | ('bad', None, why) | ('end', None, '')"""
        if self.files is not None:
            if self.pos >= len(self.files):
                return "end", None, ""
            label, f = self.files[self.pos]
            self.pos += 1
            if f is None:
                return "bad", None, f"{label}: no such file"
            try:
                return "frame", images.read_image(f), label
            except EdgeDigitsError as e:
                return "bad", None, str(e)
        ok, frame = self.cap.read()
        if ok and frame is not None and frame.size:
            self.pos += 1
            return "frame", frame, str(self.pos - 1)
        if not self.live and not ok:
            # a file: the end, unless the container says frames remain (a damaged frame: skip it)
            total, at = self.cap.get(cv2.CAP_PROP_FRAME_COUNT), self.cap.get(cv2.CAP_PROP_POS_FRAMES)
            if total <= 0 or at >= total - 1:
                return "end", None, ""
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, at + 1)
        return "bad", None, "empty or unreadable frame"

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()


def window_available() -> bool:
    """False where no window can be shown: no display, or an OpenCV built without GUI (the headless wheel)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        cv2.namedWindow("edge-digits", cv2.WINDOW_NORMAL)
        return True
    except cv2.error:
        return False


def _write_atomic(path: Path, img: np.ndarray) -> None:
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    if not cv2.imwrite(str(tmp), img):
        raise EdgeDigitsError(f"{path}: cannot write")
    os.replace(tmp, path)


class Recorder:
    """An annotated video written to a hidden temporary file, renamed into place when complete."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps, self.writer = Path(path), fps, None
        self.tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        if self.path.suffix.lower() not in (".mp4", ".avi", ".mkv", ".mov"):
            raise EdgeDigitsError(f"{path}: --record needs a .mp4, .avi, .mkv or .mov file name")
        if not self.path.parent.is_dir():
            raise EdgeDigitsError(f"{path}: folder {self.path.parent} does not exist")

    def write(self, frame: np.ndarray) -> None:
        if self.writer is None:
            fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"))
            self.writer = cv2.VideoWriter(str(self.tmp), fourcc, self.fps, (frame.shape[1], frame.shape[0]))
            if not self.writer.isOpened():
                raise EdgeDigitsError(f"{self.path}: OpenCV cannot write this video format here")
            self.size = frame.shape[1], frame.shape[0]
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size)
        self.writer.write(frame)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            os.replace(self.tmp, self.path)


def _show(view: np.ndarray, wait: bool) -> int:
    """Show a frame; the key pressed (space pauses until the next key). Still images wait for a key."""
    cv2.imshow("edge-digits", view)
    key = cv2.waitKey(0 if wait else 1) & 0xFF
    if key == ord(" "):
        key = cv2.waitKey(0) & 0xFF
    return key


@dataclass
class Summary:
    frames: int = 0
    skipped: int = 0
    wall_s: float = 0.0
    process_ms: list[float] = field(default_factory=list)  # detect + normalize + classify (+ fit), per frame
    capture_ms: list[float] = field(default_factory=list)
    lost: bool = False  # a live source disconnected and did not come back

    def text(self) -> str:
        if not self.frames:
            return f"frames 0, skipped {self.skipped}"
        p = np.array(self.process_ms)
        return (f"frames {self.frames}, skipped {self.skipped}, mean {self.frames / max(self.wall_s, 1e-9):.1f} fps "
                f"end to end; processing (detect+normalize+classify+fit) p50 {np.percentile(p, 50):.2f} ms, "
                f"p99 {np.percentile(p, 99):.2f} ms, {1e3 / max(p.mean(), 1e-9):.0f} fps; "
                f"capture/decode mean {np.mean(self.capture_ms):.2f} ms")


def run(source: Source, runner, *, headless: bool = False, json_out: bool = False, record: Path | None = None,
        min_confidence: float = vision.MIN_CONFIDENCE, max_frames: int | None = None, smooth: bool = True,
        out=None, err=None, boxfit=None) -> Summary:
    """Read, detect, classify, show/print/record until the source ends, q, Ctrl-C or a lost camera."""
    out, err = out or sys.stdout, err or sys.stderr
    _one_opencv_thread()
    fps_in = source.cap.get(cv2.CAP_PROP_FPS) if source.cap is not None else 0
    recorder = Recorder(record, fps_in if 1 <= fps_in <= 120 else 15.0) if record else None
    show = not headless and window_available()
    if not headless and not show:
        print("note: no display or no GUI support in this OpenCV (opencv-python-headless); running headless",
              file=err)
    if show:
        print(f"keys: {KEY_HELP}", file=err)
    tracker = Tracker() if smooth and source.files is None else None
    s, debug, bad_run, fps = Summary(), False, 0, 0.0
    start = time.perf_counter()
    try:
        while max_frames is None or s.frames < max_frames:
            t0 = time.perf_counter()
            status, frame, name = source.read()
            t_cap = (time.perf_counter() - t0) * 1e3
            if status == "end":
                break
            if status == "bad":
                s.skipped += 1
                bad_run += 1
                print(f"skipped: {name}", file=err)
                if source.live and bad_run >= MAX_BAD_READS:
                    if not source.reconnect(err):
                        print(f"error: {source.spec}: source lost and did not come back", file=err)
                        s.lost = True
                        break
                    bad_run = 0
                continue
            bad_run = 0
            res = vision.read_frame(frame, runner, min_confidence=min_confidence, debug=show and debug, boxfit=boxfit)
            digits, readings = tracker.update(res.digits) if tracker else (res.digits, res.readings)
            res.digits, res.readings = digits, readings
            proc = sum(res.ms.values())
            ms = {"capture": t_cap, **res.ms, "total": t_cap + proc}
            s.frames += 1
            s.process_ms.append(proc)
            s.capture_ms.append(t_cap)
            fps = 0.9 * fps + 0.1 * (1e3 / max(ms["total"], 1e-3)) if fps else 1e3 / max(ms["total"], 1e-3)
            if json_out:
                rec = {"frame": s.frames - 1, "digits": [d.to_json() for d in digits], "readings": readings,
                       "ms": {k: round(v, 3) for k, v in ms.items()}}
                if source.files is not None:
                    rec["path"] = name
                out.write(json.dumps(rec) + "\n")
                out.flush()
            if recorder or show:
                annotated = draw(frame, res, fps, ms)
                if recorder:
                    recorder.write(annotated)
                if show:
                    view = annotated
                    if debug and res.detections is not None:
                        view = np.hstack([annotated, debug_view(res, annotated.shape[0])])
                    key = _show(view, wait=source.files is not None)
                    if key in (ord("q"), 27):
                        break
                    if key == ord("s"):
                        snap = Path(f"snapshot-{time.strftime('%Y%m%d-%H%M%S')}-{s.frames - 1}.png")
                        _write_atomic(snap, annotated)
                        print(f"saved {snap}", file=err)
                    debug ^= key == ord("d")
    except KeyboardInterrupt:
        print("interrupted", file=err)
    finally:
        s.wall_s = time.perf_counter() - start
        source.close()
        if recorder:
            recorder.close()
        if show:
            cv2.destroyAllWindows()
    print(s.text(), file=err)
    return s


def predict(items: list[str], runner, min_confidence: float = vision.MIN_CONFIDENCE,
            max_pixels: int = images.MAX_PIXELS, boxfit=None) -> list[dict]:
    """One dict per image: path, digits, readings, or path and error. A 28x28 image is taken as an
    MNIST-style digit and classified as it is."""
    _one_opencv_thread()
    results = []
    for label, path in images.expand(items):
        if path is None:
            results.append({"path": label, "error": f"{label}: no such file, folder or matching glob"})
            continue
        try:
            img = images.read_image(path, max_pixels)
        except EdgeDigitsError as e:
            results.append({"path": label, "error": str(e)})
            continue
        if img.shape[:2] == (28, 28):
            res = vision.classify_mnist_image(img, runner)
        else:
            res = vision.read_frame(img, runner, min_confidence=min_confidence, boxfit=boxfit)
        results.append({"path": label, "digits": [d.to_json() for d in res.digits], "readings": res.readings})
    return results
