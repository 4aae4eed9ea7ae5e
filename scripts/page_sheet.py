"""Contact sheet of generated pages with their ground truth drawn on (green digits, red ignore, blue numbers),
and the time per page. Usage: python scripts/page_sheet.py MNIST_NPZ USPS_NPZ [OUT.png] [--bare]"""
from __future__ import annotations

import sys
import time

import cv2
import numpy as np

from edge_digits.data.pages import banks, make_page, make_pages

OVERRIDES = [dict(pen="pencil", paper="ruled"), dict(pen="ballpoint", layout="row", light="hard-shadow"),
             dict(pen="marker", digit_size="large"), dict(layout="keypad", clutter="marks"),
             dict(layout="table", paper="squared"), dict(layout="column", blur="motion"),
             dict(clutter="scribbles", light="glare"), dict(desk="yes", geometry="perspective", cut="yes"),
             dict(pen="felt", tint="yellow", light="vignette"), dict(digit_size="tiny", noise="high", jpeg="low"),
             dict(pen="fineliner", geometry="rotated", resolution="low"), dict(pressure="uneven", tint="recycled")]


def main(argv):
    bank = banks(argv[0], argv[1], "dev")
    out = argv[2] if len(argv) > 2 and not argv[2].startswith("--") else "/tmp/pages_sheet.png"
    bare = "--bare" in argv
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
