"""What one part of the digit readers costs: two variants timed side by side on the same inputs, in
alternating rounds (a shared machine that slows down mid-run slows both alike; benchmarks/camera.md's
speed table is one reader alone, and its figures move with the machine).

    .venv/bin/python scripts/bench_ab.py --mnist ../shared/data/mnist.npz --usps ../shared/data/usps.npz --pair accept

Pairs (A -> B), each on dev pages (data.pages) decoded before timing, one thread, shipped int8 models on LiteRT:
  refiner  the camera reader without -> with the box refiner (vision.refine), 640x480 pages, up to 8 digits
  accept   every candidate the classifier reads at MIN_CONFIDENCE -> the accept model's (vision.accept), same pages
  links    neighbours linked by the link map's threshold (LINK_T) -> by the link model (vision.links), same pages
  views    the classifier's one view of each digit -> two (vision.crops.classify_views), same pages
  detector the camera's default reader with the detector's int8 file -> its fp16 file (the default), same
           pages; then the net alone on the same frames
  small    the one pass -> the camera's default on 640x480 pages (2x tiles near small digits, SMALL_H)
  hd       the one pass -> the camera's default (tiles at 2x, vision.detector.AUTO), 1280x720 pages
  photo    a 4000x3000 JPEG through `predict` (decode included): every tile at full size -> coarse to
           fine tiles and the half-size decode (predict's default)
  size     the camera's default reader with another detector file (--other, e.g. one exported at another
           --imgsz) -> with the shipped one, 640x480 pages; then the nets alone
  size-photo  the same two detectors on the 4000x3000 photo through `predict`
Prints, per variant, the best round's frames/s (or ms an image) and the mean ms of each stage.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
PAIRS = ("refiner", "accept", "links", "views", "detector", "small", "hd", "photo", "size", "size-photo")


def pages(mnist: str, usps: str, size: tuple[int, int], n: int, digits: tuple[int, int] = (0, 8)) -> list[np.ndarray]:
    """n dev pages of this size holding digits[0]..digits[1] digits."""
    from edge_digits.data.pages import SPLITS, banks, make_page

    bank, out, seed = banks(mnist, usps, "dev"), [], SPLITS["dev"]["seed"]
    while len(out) < n:
        p = make_page(bank, np.random.default_rng(seed), size=size)
        seed += 1
        if digits[0] <= len(p.boxes) <= digits[1]:
            out.append(p.image)
    return out


def variants(pair: str, other: str | None = None):
    """{name: detector} for a frame pair, or {name: (detector, setup)} for the photo."""
    from edge_digits.vision import detector as D
    from edge_digits.vision.detector import AUTO, load_detector

    if pair == "refiner":
        return {"without refiner": load_detector(threads=1, refine=False), "with refiner": load_detector(threads=1)}
    if pair == "accept":
        return {"without accept model": load_detector(threads=1, accept=False), "with accept model": load_detector(threads=1)}
    if pair == "links":
        return {"link threshold": load_detector(threads=1, links=False), "link model": load_detector(threads=1)}
    if pair == "views":
        one = load_detector(threads=1)
        one.view_grow = 0
        return {"one view": one, "two views": load_detector(threads=1)}
    if pair == "detector":
        from edge_digits.config import detector_int8_model

        return {"int8 detector": load_detector(detector_int8_model(), threads=1, tiles=AUTO),
                "fp16 detector": load_detector(threads=1, tiles=AUTO)}
    if pair == "small":
        one = load_detector(threads=1, tiles=AUTO)
        one.small_h = None
        return {"one pass": one, "camera default (2x tiles near small digits)": load_detector(threads=1, tiles=AUTO)}
    if pair in ("size", "size-photo"):
        tiles = True if pair == "size-photo" else AUTO
        a, b = load_detector(other, threads=1, tiles=tiles), load_detector(threads=1, tiles=tiles)
        dets = {f"{Path(other).name} ({a.in_size[0]}x{a.in_size[1]})": a, f"shipped ({b.in_size[0]}x{b.in_size[1]})": b}
        return {k: (d, True) for k, d in dets.items()} if pair == "size-photo" else dets
    if pair == "hd":
        return {"one pass": load_detector(threads=1), "camera default (2x tiles)": load_detector(threads=1, tiles=AUTO)}
    full = load_detector(threads=1, tiles=True)
    full.tile_gate_t = None
    return {"every tile, full-size decode": (full, False), "coarse to fine, half-size decode": (load_detector(threads=1, tiles=True), True)}


def fastest_rounds(items, dets: dict, rounds: int, call, key=np.mean) -> dict:
    """{variant: (ms per item, results)} of each variant's fastest round (by key of its times); the rounds
    alternate the variants, each round after a warm-up on the first 20 items."""
    best: dict = {}
    for _ in range(rounds):
        for name, det in dets.items():
            for it in items[:20]:
                call(det, it)  # warm-up
            t, res = [], []
            for it in items:
                t0 = time.perf_counter()
                res.append(call(det, it))
                t.append((time.perf_counter() - t0) * 1e3)
            if name not in best or key(t) < key(best[name][0]):
                best[name] = (t, res)
    return best


def time_frames(frames, clf, dets: dict, rounds: int) -> None:
    from edge_digits.vision import pipeline

    best = fastest_rounds(frames, dets, rounds, lambda det, f: pipeline.read_frame(f, clf, detector=det))
    for name, (t, res) in best.items():
        ms: dict = {}
        for r in res:
            for k, v in r.ms.items():
                ms[k] = ms.get(k, 0.0) + v / len(res)
        print(f"{name}: {1e3 / float(np.mean(t)):.0f} frames/s, p99 {float(np.percentile(t, 99)):.1f} ms; "
              + ", ".join(f"{k} {v:.2f} ms" for k, v in ms.items()))


def time_photo(image: np.ndarray, clf, dets: dict, rounds: int) -> None:
    from edge_digits.app import stills
    from edge_digits.vision import tiles

    reduction = tiles.reduction
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "photo_12mp.jpg")
        cv2.imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        best: dict = {}
        try:
            for _ in range(rounds):
                for name, (det, half) in dets.items():
                    tiles.reduction = reduction if half else (lambda *a: 1)
                    stills.predict([path], clf, detector=det)  # warm-up
                    t0 = time.perf_counter()
                    r = stills.predict([path], clf, detector=det)
                    ms = (time.perf_counter() - t0) * 1e3
                    if ms < best.get(name, (1e9,))[0]:
                        best[name] = (ms, r[0].get("readings"))
        finally:
            tiles.reduction = reduction
    for name, (ms, readings) in best.items():
        print(f"{name}: {ms:.0f} ms (best of {rounds}); readings {readings}")


def main() -> None:
    from data_args import add_data_args, check_data_args

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_args(ap)
    ap.add_argument("--pair", choices=PAIRS, default="refiner")
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--other", help="--pair size / size-photo: the other detector file")
    a = ap.parse_args()
    if a.pair in ("size", "size-photo") and not (a.other and Path(a.other).is_file()):
        sys.exit(f"error: --pair {a.pair} needs --other FILE, a detector file")
    if not 1 <= a.frames <= 10_000:
        sys.exit(f"error: --frames must be in 1..10000, got {a.frames}")
    if not 1 <= a.rounds <= 100:
        sys.exit(f"error: --rounds must be in 1..100, got {a.rounds}")
    check_data_args(a)
    cv2.setNumThreads(1)  # as `camera` and `predict` run
    from edge_digits import runtime
    from edge_digits.config import camera_model

    clf = runtime.load(camera_model(), threads=1)
    dets = variants(a.pair, a.other)
    if a.pair in ("photo", "size-photo"):
        # a dev page holding 8 or more digits (scripts/bench_camera.py: photo_time times a bench page)
        time_photo(pages(a.mnist, a.usps, (4000, 3000), 1, (8, 10 ** 6))[0], clf, dets, max(a.rounds, 5))
    else:
        size = (1280, 720) if a.pair == "hd" else (640, 480)
        frames = pages(a.mnist, a.usps, size, a.frames)
        time_frames(frames, clf, dets, a.rounds)
        if a.pair in ("detector", "size"):
            time_net(frames, dets, a.rounds)


def time_net(frames, dets: dict, rounds: int) -> None:
    """Each detector net alone on each frame at its own input size: median and p99 ms, best round."""
    from edge_digits.vision.detector import to_input

    grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
    for name, det in dets.items():
        xs = [to_input(g, det.in_size) for g in grey]
        t, _ = fastest_rounds(xs, {name: det}, rounds, lambda d, x: d.net.run(x), key=np.median)[name]
        print(f"{name}, net alone: median {float(np.median(t)):.2f} ms, p99 {float(np.percentile(t, 99)):.2f} ms "
              f"a {det.in_size[0]}x{det.in_size[1]} frame")


if __name__ == "__main__":
    main()
