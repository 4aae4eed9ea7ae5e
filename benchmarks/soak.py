"""Soak test (not run in CI): `edge-digits camera --headless --json` over many synthetic frames, with the
process's resident memory sampled as it runs. A camera left on for days must keep flat memory.

    python benchmarks/soak.py --frames 30000

Makes a short video of digit pages (benchmarks/soak.avi, in a temporary folder), loops it with a concat
of itself until --frames frames, runs the camera on it in a child process and reads VmRSS from /proc.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np


def make_video(path: Path, frames: int, seed: int = 0) -> Path:
    from edge_digits.data import synth
    from edge_digits.data.mnist import load_sample

    d = load_sample()
    rng = np.random.default_rng(seed)
    pages = [synth.make_page(d.x_test, d.y_test, rng, min_height=30) for _ in range(10)]
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for i in range(frames):
        img = cv2.resize(pages[i % len(pages)].image, (640, 480))
        w.write(img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
    w.release()
    return path


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=30000)
    ap.add_argument("--chunk", type=int, default=500, help="frames in the generated video (looped)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_video(Path(tmp) / "clip.avi", args.chunk)
        # a glob would be stills; loop the clip instead with a concat list through the camera source: the
        # camera reads files, so write one long file of repeated frames by re-encoding the clip
        cap, video = cv2.VideoCapture(str(clip)), Path(tmp) / "soak.avi"
        frames = []
        while True:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(cv2.imencode(".jpg", f)[1])
        w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
        for i in range(args.frames):
            w.write(cv2.imdecode(frames[i % len(frames)], cv2.IMREAD_COLOR))
        w.release()
        cmd = [sys.executable, "-m", "edge_digits.cli", "camera", "--headless", "--json", "--source", str(video)]
        t0 = time.time()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        samples, lines = [], [0]

        def count():
            for _ in p.stdout:
                lines[0] += 1

        th = threading.Thread(target=count, daemon=True)
        th.start()
        while p.poll() is None:
            r = rss_mb(p.pid)
            if r is not None:
                samples.append((lines[0], r))
            time.sleep(1.0)
        th.join(5)
        err = p.stderr.read()
    after_warm = [r for n, r in samples if n >= 1000] or [r for _, r in samples]
    first, last, peak = after_warm[0], after_warm[-1], max(after_warm)
    print(f"command: {' '.join(cmd[2:])} (video of {args.frames} frames)")
    print(f"frames read: {lines[0]}, exit {p.returncode}, {time.time() - t0:.0f} s")
    print(f"RSS after 1000 frames {first:.1f} MB, at the end {last:.1f} MB, peak {peak:.1f} MB: "
          f"growth {last - first:+.1f} MB over {lines[0] - 1000} frames")
    print("summary:", (err.strip().splitlines() or [""])[-1])
    return 0 if p.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
