"""Digits into numbers. The learned detector links the digits of a number itself (vision.detector); this
gap rule is what the rules detector and the tracker's smoothed digits use."""
from __future__ import annotations

from edge_digits.core.boxes import union
from edge_digits.vision.results import Digit, Number


def group_numbers(digits: list[Digit]) -> list[Number]:
    """Digits side by side on one line, similar in height and close, read left to right as one number.
    Numbers are listed top to bottom, then left to right."""
    order = sorted(range(len(digits)), key=lambda i: digits[i].box[0])
    chains: list[list[int]] = []
    for i in order:
        x, y, w, h = digits[i].box
        best, best_gap = None, None
        for ch in chains:
            px, py, pw, ph = digits[ch[-1]].box
            gap = x - (px + pw)
            y_overlap = min(y + h, py + ph) - max(y, py)
            if (-0.3 * min(w, pw) <= gap <= 0.8 * max(h, ph) and y_overlap >= 0.5 * min(h, ph)
                    and 0.6 <= h / ph <= 1 / 0.6 and (best_gap is None or gap < best_gap)):
                best, best_gap = ch, gap
        if best is None:
            chains.append([i])
        else:
            best.append(i)
    chains.sort(key=lambda ch: (min(digits[i].box[1] for i in ch), digits[ch[0]].box[0]))
    return [Number("".join(str(digits[i].label) for i in ch), union([digits[i].box for i in ch]), ch) for ch in chains]


def group_readings(digits: list[Digit]) -> list[str]:
    return [n.text for n in group_numbers(digits)]
