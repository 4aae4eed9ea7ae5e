"""Where frames come from: a camera index, a video file, a stream URL, or image files (one, a folder, a glob)."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_digits.app import images
from edge_digits.config import MAX_CAMERA_INDEX, EdgeDigitsError
from edge_digits.core.quiet import quiet_opencv

RECONNECT_TRIES = 3
MAX_BAD_READS = 5  # in a row, from a live source, before we call it a disconnect
MAX_BAD_FILE_READS = 50  # in a row, from a video file, before we call the rest of it unreadable


@dataclass
class ReadCounts:
    """What Source.frames counts as it reads (app.camera.Summary adds the camera's own figures)."""
    skipped: int = 0
    unreadable: int = 0
    lost: bool = False


def open_cameras(max_index: int = 8) -> list[int]:
    """The camera indices that open here."""
    quiet_opencv()
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
        self.bad_run, self.skipped_to = 0, -1.0
        if not spec.strip():
            raise EdgeDigitsError("--source is empty (give a camera index, video file, image, folder, glob or URL)")
        p = Path(spec).expanduser()
        if spec.strip().lstrip("+-").isdigit() and not p.exists():
            index = int(spec)
            if not 0 <= index <= MAX_CAMERA_INDEX:  # OpenCV segfaults on -1 and overflows on huge numbers
                raise EdgeDigitsError(f"camera index {spec.strip()} is out of range (0..{MAX_CAMERA_INDEX})")
            self.index, self.live = index, True
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
        quiet_opencv()
        self.cap = cv2.VideoCapture(self.index)
        if not self.cap.isOpened():
            self.cap.release()
            ok = [i for i in open_cameras() if i != self.index]
            where = f"indices that open: {', '.join(map(str, ok))}" if ok else "no camera opens on this machine"
            raise EdgeDigitsError(f"camera {self.index} does not open ({where}); "
                                  "--source also takes a video file, image, folder, glob or stream URL")

    def _open_capture(self, what: str, kind: str) -> None:
        quiet_opencv()
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
        for _ in range(MAX_BAD_FILE_READS):
            ok, frame = self.cap.read()
            # a backend that seeks to an earlier key frame replays frames already shown: read past them
            if not (ok and not self.live and self.skipped_to >= 0
                    and self.cap.get(cv2.CAP_PROP_POS_FRAMES) <= self.skipped_to):
                break
        else:
            ok = False
        if ok and frame is not None and frame.size:
            self.pos += 1
            self.bad_run = 0
            return "frame", frame, str(self.pos - 1)
        if not self.live:
            # A file ends: at its end, after MAX_BAD_FILE_READS bad reads in a row (a file cut short, a damaged
            # tail), or when skipping a damaged frame would not move forward. Seeking only ever goes forward,
            # past the last place skipped to, so no frame is read twice and no damaged stretch loops.
            self.bad_run += 1
            if self.bad_run >= MAX_BAD_FILE_READS:
                return "end", None, f"{self.bad_run} unreadable frames in a row: the rest of the file is damaged"
            if not ok:
                total, at = self.cap.get(cv2.CAP_PROP_FRAME_COUNT), self.cap.get(cv2.CAP_PROP_POS_FRAMES)
                target = max(at, self.skipped_to) + 1
                if total <= 0 or target >= total or target <= self.skipped_to:
                    return "end", None, ""
                self.skipped_to = target
                self.cap.set(cv2.CAP_PROP_POS_FRAMES, target)
        return "bad", None, "empty or unreadable frame"

    def frames(self, counts: ReadCounts, err=None, max_frames: int | None = None):
        """The reading half of the frame loop, shared by `camera` (app.camera.run) and the bench's pipeline row:
        yields (frame, name, capture ms) until the source ends or max_frames were yielded. A bad read is
        skipped and counted (counts.skipped, and counts.unreadable for image files) and said on err; a live
        source that fails MAX_BAD_READS times in a row is reconnected, or counts.lost is set and it ends."""
        n, bad_run = 0, 0
        while max_frames is None or n < max_frames:
            t0 = time.perf_counter()
            status, frame, name = self.read()
            ms = (time.perf_counter() - t0) * 1e3
            if status == "end":
                if name and err:
                    print(f"note: {self.spec}: {name}; stopped there", file=err)
                return
            if status == "bad":
                counts.skipped += 1
                counts.unreadable += self.files is not None
                bad_run += 1
                if err:
                    print(f"skipped: {name}", file=err)
                if self.live and bad_run >= MAX_BAD_READS:
                    if not self.reconnect(err):
                        print(f"error: {self.spec}: source lost and did not come back", file=err or sys.stderr)
                        counts.lost = True
                        return
                    bad_run = 0
                continue
            bad_run = 0
            n += 1
            yield frame, name, ms

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
