"""Contact sheet of generated pages with their ground truth drawn on (green digits, red ignore, blue numbers),
and the time per page. Usage: python scripts/page_sheet.py MNIST_NPZ USPS_NPZ [OUT.png] [--bare]

With --legibility [contrast|shape]: sheets of the dev pages' digits just below and just above a legibility
line (contrast: render.LEGIBLE_MIN / LEGIBLE_SNR, the truth line; shape: render.shape_score at 0.7, no truth
line), each labelled with its score, to check by eye that the digits left out of the truth cannot be read
and the ones kept can: OUT_below.png, OUT_above.png."""
from __future__ import annotations

import argparse
import sys
import time

import cv2
import numpy as np

from edge_digits.data.pages import SPLITS, banks, make_page, make_pages, render

OVERRIDES = [dict(pen="pencil", paper="ruled"), dict(pen="ballpoint", layout="row", light="hard-shadow"),
             dict(pen="marker", digit_size="large"), dict(layout="keypad", clutter="marks"),
             dict(layout="table", paper="squared"), dict(layout="column", blur="motion"),
             dict(clutter="scribbles", light="glare"), dict(desk="yes", geometry="perspective", cut="yes"),
             dict(pen="felt", tint="yellow", light="vignette"), dict(digit_size="tiny", noise="high", jpeg="low"),
             dict(pen="fineliner", geometry="rotated", resolution="low"), dict(pressure="uneven", tint="recycled")]


def legibility_sheets(bank, out: str, kind: str = "contrast", n_pages: int = 300) -> None:
    """kind: contrast (render.legible_score around its truth line, 1) or shape (render.shape_score around 0.7,
    where the dev digits go from mostly readable to mostly not; no truth line)."""
    seen = []  # (page, box, score) of every digit the generator weighed
    name = {"contrast": "legible_score", "shape": "shape_score"}[kind]
    line = 1.0 if kind == "contrast" else 0.7
    score = getattr(render, name)

    def scored(*args):
        v = score(*args)
        box = args[1] if kind == "contrast" else args[0]
        seen.append((len(pages), tuple(int(c) for c in box), v))
        return v

    pages = []
    setattr(render, name, scored)  # a diagnostic script: the generator itself stays as it is
    try:
        for i in range(n_pages):
            pages.append(make_page(bank, np.random.default_rng(SPLITS["dev"]["seed"] + 50000 + i), (640, 480)))
    finally:
        setattr(render, name, score)
    rng = np.random.default_rng(0)
    band = 0.25 if kind == "contrast" else 0.1
    for side, lo, hi in (("below", line - band, line), ("above", line, line + band)):
        sel = [s for s in seen if lo <= s[2] < hi]
        sel = [sel[i] for i in rng.permutation(len(sel))[:96]]
        tiles = []
        for pi, (x, y, w, h), v in sel:
            s = max(w, h)
            x0, y0 = max(0, x + w // 2 - s), max(0, y + h // 2 - s)
            c = pages[pi].image[y0:y0 + 2 * s, x0:x0 + 2 * s]
            t = np.full((110, 96, 3), 255, np.uint8)
            t[:96] = cv2.resize(c, (96, 96), interpolation=cv2.INTER_AREA if 2 * s > 96 else cv2.INTER_NEAREST)
            cv2.putText(t, f"{v:.2f} h{h}", (2, 107), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 255), 1)
            tiles.append(t)
        tiles += [np.full((110, 96, 3), 255, np.uint8)] * (-len(tiles) % 12)
        path = out.replace(".png", f"_{side}.png")
        if tiles:
            cv2.imwrite(path, np.vstack([np.hstack(tiles[i: i + 12]) for i in range(0, len(tiles), 12)]))
        print(f"{path}: {len(sel)} of the digits scored {lo:.2f}..{hi:.2f}")
    v = np.array([s[2] for s in seen])
    print(f"{len(v)} digits on {n_pages} pages, {100 * (v >= line).mean():.1f}% at or above the {kind} line {line}; "
          f"quantiles 1/5/10/25/50%: " + " ".join(f"{q:.2f}" for q in np.quantile(v, [0.01, 0.05, 0.1, 0.25, 0.5])))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mnist", help="Keras' mnist.npz")
    ap.add_argument("usps", help="USPS .npz")
    ap.add_argument("out", nargs="?", default="/tmp/pages_sheet.png", help="PNG to write")
    ap.add_argument("--bare", action="store_true", help="no ground truth drawn")
    ap.add_argument("--legibility", nargs="?", const="contrast", choices=["contrast", "shape"],
                    help="the legibility sheets instead: the contrast line (default) or the shape line")
    a = ap.parse_args(argv)
    try:
        bank = banks(a.mnist, a.usps, "dev")
    except (OSError, ValueError, KeyError) as e:  # a missing or foreign file: one line, no traceback
        sys.exit(f"error: cannot read the digits: {type(e).__name__}: {e}")
    out = a.out
    if a.legibility:
        return legibility_sheets(bank, out, a.legibility)
    bare = a.bare
    tiles = []
    for k, ov in enumerate(OVERRIDES):
        p = make_page(bank, np.random.default_rng(100 + k), (640, 480), **ov)
        im = p.image.copy()
        if not bare:
            for x, y, w, h in p.boxes:
                cv2.rectangle(im, (x, y), (x + w - 1, y + h - 1), (0, 200, 0), 1)
            for x, y, w, h in p.ignore:
                cv2.rectangle(im, (x, y), (x + w - 1, y + h - 1), (0, 0, 255), 1)
            for n in p.numbers:
                x, y, w, h = n.box
                cv2.putText(im, n.text, (x, max(10, y - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 0, 0), 1)
        cv2.putText(im, " ".join(f"{v}" for v in ov.values()), (5, 470), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 255), 1)
        tiles.append(im)
    rows = [np.hstack(tiles[i: i + 3]) for i in range(0, 12, 3)]
    cv2.imwrite(out, np.vstack(rows))
    make_pages(bank, 20, 0)  # warm the skeleton cache a little, as a long run would be
    t = time.perf_counter()
    pages = make_pages(bank, 200, 1)
    dt = (time.perf_counter() - t) / 200
    print(f"{out}; {dt * 1000:.1f} ms/page over 200 pages (drawn sizes), "
          f"{np.mean([len(p.boxes) for p in pages]):.1f} digits/page")


if __name__ == "__main__":
    main(sys.argv[1:])
