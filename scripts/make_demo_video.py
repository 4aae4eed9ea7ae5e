"""Make tests/data/demo.mp4: a few seconds of a hand-held camera over a page of handwritten digits, for
`make demo` and the README. Built from the bundled MNIST sample by edge_digits.synth, deterministic:

    python scripts/make_demo_video.py            # writes tests/data/demo.mp4 and prints its truth
    python scripts/make_demo_video.py /tmp/long.mp4 --frames 6000   # the same page shaken for 8 minutes
"""
import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from edge_digits.data import synth
from edge_digits.data.mnist import load_sample

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "demo.mp4"
SEED, FRAMES, FPS = 2026, 48, 12


def demo_page() -> synth.Page:
    d = load_sample()
    rng = np.random.default_rng(SEED)
    # the first page of this seed that holds a number of several digits makes the better demo
    while True:
        page = synth.make_page(d.x_test, d.y_test, rng, min_height=40)
        if len(page.labels) >= 5 and any(len(r) >= 3 for r in page.readings):
            return page


def main(out: Path = OUT, n_frames: int = FRAMES) -> None:
    page = demo_page()
    frames = synth.shake(page, n_frames, SEED)
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
    w = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (page.image.shape[1], page.image.shape[0]))
    if not w.isOpened():
        sys.exit(f"error: OpenCV cannot write {out.suffix} here")
    for f, _ in frames:
        w.write(f)
    w.release()
    tmp.replace(out)
    print(f"{out}: {out.stat().st_size} bytes, {n_frames} frames; truth: "
          + json.dumps({"labels": page.labels.tolist(), "readings": page.readings}))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path, default=OUT, help=f"the video to write (default {OUT.name})")
    ap.add_argument("--frames", type=int, default=FRAMES, help=f"frames at {FPS} fps (default {FRAMES})")
    a = ap.parse_args()
    if not 1 <= a.frames <= 100_000:  # every frame is held in memory before writing (about 1 GB a 1,000)
        ap.error("--frames must be in 1..100000")
    main(a.out, a.frames)
