"""Scores a digit reader on generated pages, overall, per condition value, per digit height and per digit
(the true label; precision per label over the boxes reported as that digit), with 95% Wilson intervals.
numpy only.

results: one per page, either {"digits": [(box, label), ...], "numbers": [(text, box, [digit idx]), ...]}
or the pair (digits, numbers); boxes are x, y, w, h in image pixels.
"""
from __future__ import annotations

import numpy as np

from edge_digits.core.boxes import inside_matrix as _inside, iou_matrix as _iou, match as _match

HEIGHTS = [(0, 20), (20, 40), (40, 90), (90, 200), (200, None)]  # true digit height buckets, px
METRICS = ["recall", "precision", "read_right", "numbers_whole", "pages_exact"]
# How legible each true digit came out of the photo (Page.legibility: its contrast as a multiple of the truth
# line, and how much of its shape the optics kept, render.shape_score), in three classes for reporting only:
# clear, fair, and poor (faint, or blurred to a shape score under 0.75). On 1000 dev pages the shipped classifier reads 97.5% of the
# clear digits cut at their true boxes, 89.3% of the fair and 65.0% of the poor (`scripts/dev_eval.py
# --true-boxes --by-legibility`). Descriptive bins like HEIGHTS, not a truth line: every digit counts alike.
LEGIBILITY = [("clear", 3.0, 0.9), ("fair", 1.5, 0.75), ("poor", 0.0, -1.0)]  # (name, contrast >=, shape >=)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    r = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return float(max(0.0, c - r)), float(min(1.0, c + r))


def _page(page, result, min_iou):
    """Counts for one page: (totals dict, per-digit [height, found, right, label], per-found-box [height,
    matched, label])."""
    digits, numbers = (result["digits"], result.get("numbers", [])) if isinstance(result, dict) else result
    fb = np.array([d[0] for d in digits], float).reshape(-1, 4)
    fl = [int(d[1]) for d in digits]
    keep = np.ones(len(fb), bool)
    if len(page.ignore) and len(fb):  # a box mostly on a cut digit counts neither way
        keep = _inside(fb, page.ignore).max(1) < 0.5
    fb, fl = fb[keep], [v for v, k in zip(fl, keep) if k]
    pairs = _match(page.boxes, fb, min_iou)
    found_t = np.zeros(len(page.boxes), bool)
    right_t = np.zeros(len(page.boxes), bool)
    hit_f = np.zeros(len(fb), bool)
    for i, j in pairs:
        found_t[i], hit_f[j] = True, True
        right_t[i] = fl[j] == int(page.labels[i])
    nb = np.array([n[1] for n in numbers], float).reshape(-1, 4)
    if len(page.ignore) and len(nb):
        nkeep = _inside(nb, page.ignore).max(1) < 0.5
        numbers = [n for n, k in zip(numbers, nkeep) if k]
        nb = nb[nkeep]
    whole = 0
    if page.numbers and len(nb):
        ov = _iou([n.box for n in page.numbers], nb)
        used = set()
        for i, n in enumerate(page.numbers):
            for j in np.argsort(-ov[i]):
                if ov[i, j] < min_iou:
                    break
                if j not in used and str(numbers[j][0]) == n.text:
                    used.add(int(j))
                    whole += 1
                    break
    exact = (whole == len(page.numbers) and len(numbers) == len(page.numbers)
             and bool(right_t.all()) and bool(hit_f.all()))
    tot = {"digits": len(page.boxes), "found": len(fb), "matched": int(found_t.sum()), "right": int(right_t.sum()),
           "numbers": len(page.numbers), "whole": whole, "pages": 1, "exact": int(exact)}
    per_t = np.stack([page.boxes[:, 3] if len(page.boxes) else np.zeros(0), found_t, right_t,
                      np.asarray(page.labels, float).reshape(-1), legibility_class(page)], 1)
    per_f = np.stack([fb[:, 3], hit_f, np.asarray(fl, float).reshape(-1)], 1)
    return tot, per_t, per_f


PAIRS = {"recall": ("matched", "digits"), "precision": ("matched", "found"), "read_right": ("right", "digits"),
         "numbers_whole": ("whole", "numbers"), "pages_exact": ("exact", "pages")}


def legibility_class(page) -> np.ndarray:
    """Each true digit's LEGIBILITY index (-1 where the page carries no legibility)."""
    leg = getattr(page, "legibility", None)
    out = np.full(len(page.boxes), -1.0)
    if leg is None or len(leg) != len(page.boxes):
        return out
    for k, (_, c, sh) in reversed(list(enumerate(LEGIBILITY))):
        out[(leg[:, 0] >= c) & (leg[:, 1] >= sh)] = k
    return out


def _metrics(t: dict, pairs: dict = PAIRS) -> dict:
    out = {k: t[k] for k in ("pages", "digits", "found", "numbers")}
    for name, (k, n) in pairs.items():
        out[name] = {"value": t[k] / t[n] if t[n] else float("nan"), "k": t[k], "n": t[n], "ci": wilson(t[k], t[n])}
    return out


def _bucket(h: float) -> str:
    for lo, hi in HEIGHTS:
        if hi is None or h < hi:
            return f"{lo}-{hi - 1} px" if hi else f"{lo}+ px"
    return "?"


def score(pages, results, min_iou: float = 0.5) -> dict:
    keys = ("digits", "found", "matched", "right", "numbers", "whole", "pages", "exact")
    zero = lambda: dict.fromkeys(keys, 0)  # noqa: E731
    bucket = lambda: dict(zero(), matched_f=0)  # noqa: E731  (height, label: found boxes matched, for precision)
    overall, by_cond, by_h, by_l, by_leg = zero(), {}, {}, {}, {}
    for page, res in zip(pages, results):
        tot, per_t, per_f = _page(page, res, min_iou)
        groups = [overall] + [by_cond.setdefault(k, {}).setdefault(v, zero()) for k, v in page.conditions.items()]
        for g in groups:
            for k in keys:
                g[k] += tot[k]
        for h, f, r, lab, leg in per_t:
            bs = [by_h.setdefault(_bucket(h), bucket()), by_l.setdefault(int(lab), bucket())]
            if leg >= 0:
                bs.append(by_leg.setdefault(int(leg), bucket()))
            for b in bs:
                b["digits"] += 1
                b["matched"] += int(f)
                b["right"] += int(r)
        for h, m, lab in per_f:  # precision per bucket (label) is over found boxes of that height (read as it)
            for b in (by_h.setdefault(_bucket(h), bucket()), by_l.setdefault(int(lab), bucket())):
                b["found"] += 1
                b["matched_f"] += int(m)
    report = {"overall": _metrics(overall),
              "by_condition": {k: {v: _metrics(t) for v, t in sorted(vals.items())} for k, vals in by_cond.items()},
              "by_height": {}, "by_label": {}, "by_legibility": {}}
    order = [_bucket(lo) for lo, _ in HEIGHTS]
    three = {"recall": PAIRS["recall"], "precision": ("matched_f", "found"), "read_right": PAIRS["read_right"]}
    for name in sorted(by_h, key=order.index):  # a height's precision is over the found boxes of that height
        report["by_height"][name] = _metrics(by_h[name], three)
    for lab in sorted(by_l):
        report["by_label"][str(lab)] = _metrics(by_l[lab], three)
    for k in sorted(by_leg):  # no precision: a found box on nothing has no legibility
        report["by_legibility"][LEGIBILITY[k][0]] = _metrics(by_leg[k], {m: PAIRS[m] for m in ("recall", "read_right")})
    return report


def _cell(m: dict) -> str:
    if not m["n"]:
        return "-"
    lo, hi = m["ci"]
    return f"{100 * m['value']:.1f}% ({100 * lo:.0f}-{100 * hi:.0f})"


def _table(rows: dict, first: str, metrics: list[str]) -> list[str]:
    out = [f"| {first} | pages | digits | " + " | ".join(metrics) + " |",
           "|" + "---|" * (3 + len(metrics))]
    for name, m in rows.items():
        out.append(f"| {name} | {m['pages']} | {m['digits']} | " + " | ".join(_cell(m[k]) for k in metrics) + " |")
    return out


def format_markdown(report: dict) -> str:
    lines = ["## Overall", ""] + _table({"all": report["overall"]}, "", METRICS)
    lines += ["", "## By digit height", ""] + _table(report["by_height"], "height", METRICS[:3])
    lines += ["", "## By digit (true label; precision over the boxes read as it)", ""]
    lines += _table(report.get("by_label", {}), "digit", METRICS[:3])
    if report.get("by_legibility"):
        lines += ["", "## By legibility (data.pages.score.LEGIBILITY)", ""]
        lines += _table(report["by_legibility"], "legibility", ["recall", "read_right"])
    for cls, vals in report["by_condition"].items():
        lines += ["", f"## {cls}", ""] + _table(vals, cls, METRICS)
    return "\n".join(lines) + "\n"
