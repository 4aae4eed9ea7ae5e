"""Follow digits from frame to frame so a reading does not flicker: boxes are matched by overlap, each track
sums its class probabilities over time (decayed, a vote of its frames), and its label changes only when
another label's vote beats it by a margin (hysteresis). One bad frame cannot flip a stable digit. The
learned detector's links between digits vote the same way: each pair of tracks keeps a decayed share of
the frames that linked it, a link holds from LINK_ON until it falls under LINK_OFF, and numbers are the
groups of the held links; one frame that misses a link does not split "55" into "5" and "5"."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_digits.core.boxes import iou_matrix, union
from edge_digits.vision.numbers import group_numbers
from edge_digits.vision.results import Digit, Number


LINK_DECAY, LINK_ON, LINK_OFF = 0.8, 0.6, 0.4  # a new link starts held at LINK_ON: two frames without it end it


@dataclass
class Track:
    id: int
    box: tuple[int, int, int, int]
    votes: np.ndarray  # decayed sum of the probabilities of its frames
    label: int
    missed: int = 0


class Tracker:
    def __init__(self, decay: float = 0.8, margin: float = 1.3, min_iou: float = 0.3, max_missed: int = 5):
        self.decay, self.margin, self.min_iou, self.max_missed = decay, margin, min_iou, max_missed
        self.tracks: list[Track] = []
        self.next_id = 0
        self.links: dict[tuple[int, int], list] = {}  # (track id, track id) -> [vote, held]

    def update(self, digits: list[Digit], numbers: list[Number] | None = None) -> tuple[list[Digit], list[Number]]:
        """Smoothed digits (with track ids) and numbers for this frame's raw digits. With the frame's numbers
        (the learned detector's links) their grouping is kept and only their text follows the smoothed
        labels; without, numbers come from the gap rule."""
        m = iou_matrix([t.box for t in self.tracks], [d.box for d in digits])
        pairs = sorted(((m[i, j], i, j) for i, j in zip(*np.nonzero(m >= self.min_iou))), reverse=True)
        track_of: dict[int, Track] = {}
        used = set()
        for _, i, j in pairs:
            if i not in used and j not in track_of:
                used.add(i)
                track_of[j] = self.tracks[i]
        out, updated = [], set()
        for j, d in enumerate(digits):
            p = d.probs if d.probs is not None else np.eye(10, dtype=np.float32)[d.label] * d.confidence
            t = track_of.get(j)
            if t is None:
                t = Track(self.next_id, d.box, p.astype(np.float32), int(p.argmax()))
                self.next_id += 1
                self.tracks.append(t)
            else:
                t.votes = self.decay * t.votes + p
                t.box, t.missed = d.box, 0
                best = int(t.votes.argmax())
                if best != t.label and t.votes[best] > self.margin * t.votes[t.label]:
                    t.label = best
            updated.add(t.id)
            out.append(Digit(d.box, t.label, float(t.votes[t.label] / t.votes.sum()), track=t.id))
        for t in self.tracks:
            if t.id not in updated:
                t.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        if numbers is None:
            return out, group_numbers(out)
        return out, self._numbers(out, numbers)

    def _numbers(self, out: list[Digit], numbers: list[Number]) -> list[Number]:
        """This frame's numbers from the voted links between its tracks."""
        from edge_digits.vision.detector import connected, reading_order

        ids = [d.track for d in out]
        now = {tuple(sorted((ids[a], ids[b]))) for n in numbers for a, b in zip(n.digits, n.digits[1:])}
        alive = {t.id for t in self.tracks}
        self.links = {k: v for k, v in self.links.items() if k[0] in alive and k[1] in alive}  # tracks that ended
        pos = {t: k for k, t in enumerate(ids)}
        edges = []
        # the pairs linked now, and the pairs with a vote whose tracks are both in this frame
        for key in now | {k for k in self.links if k[0] in pos and k[1] in pos}:
            seen = key in now
            v = self.links.get(key)
            if v is None:
                v = self.links[key] = [LINK_ON, True]
            else:
                v[0] = LINK_DECAY * v[0] + (1 - LINK_DECAY) * float(seen)
                v[1] = v[0] >= (LINK_OFF if v[1] else LINK_ON)
            if v[1]:
                edges.append((pos[key[0]], pos[key[1]]))
        result = []
        for m in connected(len(out), edges):
            c = np.array([[d.box[0] + d.box[2] / 2, d.box[1] + d.box[3] / 2] for d in (out[i] for i in m)])
            m = [m[k] for k in reading_order(c[:, 0], c[:, 1])]
            result.append(Number("".join(str(out[i].label) for i in m), union([out[i].box for i in m]), m))
        result.sort(key=lambda n: (n.box[1], n.box[0]))
        return result
