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

from edge_digits.app import window as windows
from edge_digits.app.overlay import debug_view, draw
from edge_digits.app.sources import ReadCounts, Source
from edge_digits.config import EdgeDigitsError
from edge_digits.core import files
from edge_digits.core.signals import interrupts_deferred
from edge_digits.vision import pipeline as vision
from edge_digits.vision.tracking import Tracker

KEY_HELP = "q quit (or close the window), space pause, s snapshot, d debug view"


def window_available() -> bool:
    """False where no window can be shown: no display, or an OpenCV built without GUI (the headless wheel)."""
    return windows.available()


def check_record(path: Path) -> Path:
    """--record: a video file name in a folder this process can write, checked before the camera opens."""
    path = Path(path)
    if path.suffix.lower() not in (".mp4", ".avi", ".mkv", ".mov"):
        raise EdgeDigitsError(f"{path}: --record needs a .mp4, .avi, .mkv or .mov file name")
    if not path.parent.is_dir():
        raise EdgeDigitsError(f"{path}: folder {path.parent} does not exist")
    return files.check_writable(path)


class Recorder:
    """An annotated video written to a hidden temporary file (unique to this process), renamed into place
    when complete. A file there at the start is replaced; one that appeared during the recording (another
    run recording to the same name) is kept, and this recording is kept next to it under another name."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps, self.writer, self.tmp = check_record(path), fps, None, None
        self.replace = self.path.exists()

    def write(self, frame: np.ndarray) -> None:
        if self.writer is None:
            fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"))
            self.tmp = files._temp_name(self.path)
            self.writer = cv2.VideoWriter(str(self.tmp), fourcc, self.fps, (frame.shape[1], frame.shape[0]))
            if not self.writer.isOpened():
                raise EdgeDigitsError(f"{self.path}: OpenCV cannot write this video format here")
            self.size = frame.shape[1], frame.shape[0]
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size)
        self.writer.write(frame)

    def close(self) -> None:
        if self.writer is None:
            return
        self.writer.release()
        self.writer = None
        try:
            files.publish(self.tmp, self.path, self.replace)
        except EdgeDigitsError:
            alt = self.path.with_name(f"{self.path.stem}.{os.getpid()}{self.path.suffix}")
            os.replace(self.tmp, alt)
            raise EdgeDigitsError(f"{self.path}: appeared while this run was recording; kept it and saved "
                                  f"this recording as {alt}") from None


class Window:
    """The last `size` values in a fixed numpy ring, plus the count and sum of all: percentiles of the
    recent frames and the mean of every frame in flat memory, however long a camera runs."""

    def __init__(self, size: int = 10_000):
        self.buf, self.n, self.total = np.zeros(size, np.float64), 0, 0.0

    def append(self, v: float) -> None:
        self.buf[self.n % len(self.buf)] = v
        self.n += 1
        self.total += v

    def values(self) -> np.ndarray:
        return self.buf[:min(self.n, len(self.buf))]

    def mean(self) -> float:
        return self.total / max(self.n, 1)

    def __len__(self) -> int:
        return min(self.n, len(self.buf))

    def __iter__(self):
        return iter(self.values())


def frame_line(index: int, name: str | None, res) -> str:
    """`frame 3: 4 923  [2 (1.00), 9 (0.99), ...]`, the text headless runs print for each frame."""
    found = ", ".join(f"{d.label} ({d.confidence:.2f})" for d in res.digits) or "no digits"
    return f"{name or f'frame {index}'}: {' '.join(res.readings) or '-'}  [{found}]"


@dataclass
class Summary(ReadCounts):  # skipped; unreadable image files (exit 1, like predict); lost: a live source gone
    frames: int = 0
    wall_s: float = 0.0
    process_ms: Window = field(default_factory=Window)  # detect + normalize + classify (+ fit), per frame
    capture_ms: Window = field(default_factory=Window)
    interrupted: bool = False  # Ctrl-C or SIGTERM (exit 130)

    def text(self) -> str:
        if not self.frames:
            return f"frames 0, skipped {self.skipped}"
        p = self.process_ms.values()
        recent = f" (last {len(p):,} frames)" if self.process_ms.n > len(p) else ""
        return (f"frames {self.frames}, skipped {self.skipped}, mean {self.frames / max(self.wall_s, 1e-9):.1f} fps "
                f"end to end; processing (detect+normalize+classify+fit) p50 {np.percentile(p, 50):.2f} ms, "
                f"p99 {np.percentile(p, 99):.2f} ms{recent}, {1e3 / max(self.process_ms.mean(), 1e-9):.0f} fps; "
                f"capture/decode mean {self.capture_ms.mean():.2f} ms")


def run(source: Source, runner, *, headless: bool = False, json_out: bool = False, record: Path | None = None,
        min_confidence: float | None = None, max_frames: int | None = None, smooth: bool = True,
        out=None, err=None, boxfit=None, detector=None, realtime: bool | None = None,
        snapshot_dir: Path | None = None) -> Summary:
    """Read, detect, classify, show/print/record until the source ends, q, Ctrl-C or a lost camera.
    realtime: a video file plays at its own frame rate (default: when it is shown in a window); else frames
    are read as fast as they are processed. Snapshots (s) go to snapshot_dir (default snapshots/<start time>/)."""
    out, err = out or sys.stdout, err or sys.stderr
    fps_in = source.cap.get(cv2.CAP_PROP_FPS) if source.cap is not None else 0
    recorder = Recorder(record, fps_in if 1 <= fps_in <= 120 else 15.0) if record else None
    show = not headless and window_available()
    if not headless and not show:
        print("note: no display or no GUI support in this OpenCV (opencv-python-headless); running headless",
              file=err)
    if show:
        print(f"keys: {KEY_HELP}", file=err)
    video_file = source.cap is not None and not source.live
    if realtime is None:
        realtime = show and video_file
    play_fps = fps_in if 1 <= fps_in <= 240 else 30.0
    period = 1.0 / play_fps if realtime and video_file else 0.0
    pace = f"playing at {play_fps:g} fps" if period else ""
    win = windows.Window() if show else None
    snaps = windows.Snapshots(snapshot_dir)
    tracker = Tracker() if smooth and source.files is None else None
    s, fps = Summary(), 0.0
    start = due = time.perf_counter()
    try:
        for frame, name, t_cap in source.frames(s, err, max_frames):
            res = vision.read_frame(frame, runner, min_confidence=min_confidence, debug=bool(win and win.debug),
                                    boxfit=boxfit, detector=detector)
            if tracker:
                res.digits, res.numbers = tracker.update(res.digits, res.numbers if detector is not None else None)
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
            elif not show:  # headless without --json: the frame's readings as one line of text
                out.write(frame_line(s.frames - 1, name if source.files is not None else None, res) + "\n")
                out.flush()
            due = max(due + period, time.perf_counter()) if period else due
            if recorder or show:
                annotated = draw(frame, res, fps, ms, status=pace)
                if recorder:
                    recorder.write(annotated)
                if win:
                    snap_name = Path(name).stem if source.files is not None else f"frame-{s.frames - 1:06d}"
                    render = _renderer(frame, res, annotated, runner, min_confidence, boxfit, detector)
                    wait_ms = max(1.0, (due - time.perf_counter()) * 1e3)
                    if not win.interact(render, source.files is not None, wait_ms,
                                        lambda view: _snapshot(snaps, view, snap_name, err), annotated.shape[1]):
                        break
                    if period and due < time.perf_counter():  # paused, or behind: the pace restarts from now
                        due = time.perf_counter()
            if period and not win and due > time.perf_counter():
                time.sleep(due - time.perf_counter())
    except KeyboardInterrupt:
        s.interrupted = True
        print("interrupted", file=err)
    finally:
        s.wall_s = time.perf_counter() - start
        source.close()
        if recorder:
            with interrupts_deferred():  # a second Ctrl-C must not leave the recording unplayable
                recorder.close()
        if win:
            win.close()
    print(s.text(), file=err)
    return s


def _renderer(frame, res, annotated, runner, min_confidence, boxfit, detector=None):
    """What the window shows for a frame, with or without the debug view; a frame read without the debug
    record is read again for it (the digits shown stay the tracked ones)."""
    def render(debug: bool) -> np.ndarray:
        if not debug:
            return annotated
        if res.detections is None:
            again = vision.read_frame(frame, runner, min_confidence=min_confidence, debug=True, boxfit=boxfit,
                                      detector=detector)
            res.detections, res.normalized, res.probs = again.detections, again.normalized, again.probs
        return np.hstack([annotated, debug_view(res, annotated.shape[0])])
    return render


def _snapshot(snaps: "windows.Snapshots", view: np.ndarray, name: str, err) -> None:
    try:
        print(f"saved {snaps.save(view, name)}", file=err)
    except EdgeDigitsError as e:
        print(f"error: snapshot not saved: {e}", file=err)
