"""What the vision stage returns: digits, numbers, and a frame's result with its timings."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Digit:
    box: tuple[int, int, int, int]  # x, y, w, h in source-frame pixels
    label: int
    confidence: float
    track: int | None = None
    probs: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        d = {"box": [int(v) for v in self.box], "label": int(self.label), "confidence": round(float(self.confidence), 4)}
        if self.track is not None:
            d["track"] = self.track
        return d


@dataclass
class Number:
    """Digits read as one number: their text left to right (in the number's direction), the box around
    them, and their indices into the frame's digits."""
    text: str
    box: tuple[int, int, int, int]
    digits: list[int]

    def to_json(self) -> dict:
        return {"text": self.text, "box": [int(v) for v in self.box], "digits": [int(i) for i in self.digits]}


@dataclass
class FrameResult:
    digits: list[Digit]
    numbers: list[Number]
    ms: dict[str, float]
    detections: object | None = None  # the detector's own record of the frame, for the debug view
    normalized: np.ndarray | None = None  # (N, 28, 28) what the classifier saw, for the debug view
    rejected: int = 0  # blobs that looked unlike any digit or scored under min_confidence
    probs: np.ndarray | None = field(default=None, repr=False)

    def scaled(self, k: float) -> "FrameResult":
        """The same result with every box k times larger: read from a frame 1/k the size of the source."""
        def up(b):
            return tuple(int(round(v * k)) for v in b)

        digits = [Digit(up(d.box), d.label, d.confidence, d.track, d.probs) for d in self.digits]
        numbers = [Number(n.text, up(n.box), list(n.digits)) for n in self.numbers]
        return FrameResult(digits, numbers, self.ms, self.detections, self.normalized, self.rejected, self.probs)

    @property
    def readings(self) -> list[str]:
        return [n.text for n in self.numbers]

    def to_json(self) -> dict:
        return {"digits": [d.to_json() for d in self.digits], "numbers": [n.to_json() for n in self.numbers],
                "readings": self.readings}
