"""The camera loop: frames from a source, read, tracked, printed, drawn, recorded and shown, with fault handling.
The vision itself lives in edge_digits.vision; this is I/O, timing, drawing and the window."""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge_digits.app.overlay import debug_view, draw
from edge_digits.app.sources import MAX_BAD_READS, Source
from edge_digits.config import EdgeDigitsError
from edge_digits.vision import pipeline as vision
from edge_digits.vision.tracking import Tracker

KEY_HELP = "q quit, space pause, s snapshot, d debug"


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
        out=None, err=None, boxfit=None, detector=None) -> Summary:
    """Read, detect, classify, show/print/record until the source ends, q, Ctrl-C or a lost camera."""
    out, err = out or sys.stdout, err or sys.stderr
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
            res = vision.read_frame(frame, runner, min_confidence=min_confidence, debug=show and debug, boxfit=boxfit,
                                    detector=detector)
            if tracker:
                res.digits, res.numbers = tracker.update(res.digits)
            proc = sum(res.ms.values())
            ms = {"capture": t_cap, **res.ms, "total": t_cap + proc}
            s.frames += 1
            s.process_ms.append(proc)
            s.capture_ms.append(t_cap)
            fps = 0.9 * fps + 0.1 * (1e3 / max(ms["total"], 1e-3)) if fps else 1e3 / max(ms["total"], 1e-3)
            if json_out:
                rec = {"frame": s.frames - 1, **res.to_json(), "ms": {k: round(v, 3) for k, v in ms.items()}}
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
