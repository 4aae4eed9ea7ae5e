"""Follow digits from frame to frame so a reading does not flicker: boxes are matched by overlap, and each
track's class probabilities are averaged over time (exponentially), so one bad frame cannot flip a label."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_digits.core.boxes import iou
from edge_digits.vision.numbers import group_numbers
from edge_digits.vision.results import Digit, Number


@dataclass
class Track:
    id: int
    box: tuple[int, int, int, int]
    probs: np.ndarray
    missed: int = 0


class Tracker:
    def __init__(self, alpha: float = 0.4, min_iou: float = 0.3, max_missed: int = 5):
        self.alpha, self.min_iou, self.max_missed = alpha, min_iou, max_missed
        self.tracks: list[Track] = []
        self.next_id = 0

    def update(self, digits: list[Digit]) -> tuple[list[Digit], list[Number]]:
        """Smoothed digits (with track ids) and numbers for this frame's raw digits."""
        pairs = sorted(((iou(t.box, d.box), i, j) for i, t in enumerate(self.tracks) for j, d in enumerate(digits)),
                       reverse=True)
        track_of: dict[int, Track] = {}
        used = set()
        for v, i, j in pairs:
            if v < self.min_iou:
                break
            if i in used or j in track_of:
                continue
            used.add(i)
            track_of[j] = self.tracks[i]
        out, updated = [], set()
        for j, d in enumerate(digits):
            p = d.probs if d.probs is not None else np.eye(10, dtype=np.float32)[d.label] * d.confidence
            t = track_of.get(j)
            if t is None:
                t = Track(self.next_id, d.box, p.astype(np.float32))
                self.next_id += 1
                self.tracks.append(t)
            else:
                t.probs = (1 - self.alpha) * t.probs + self.alpha * p
                t.box, t.missed = d.box, 0
            updated.add(t.id)
            out.append(Digit(d.box, int(t.probs.argmax()), float(t.probs.max()), track=t.id))
        for t in self.tracks:
            if t.id not in updated:
                t.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return out, group_numbers(out)
