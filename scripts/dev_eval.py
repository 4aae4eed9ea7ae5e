"""Score a digit reader on development pages, with its thresholds set from the command line: how every
threshold of the learned reader was chosen (never on the bench pages: scripts/bench_camera.py reports those).

    .venv/bin/python scripts/dev_eval.py --mnist ../shared/data/mnist.npz --usps ../shared/data/usps.npz --pages 300
    ... --size 1280x720 --pages 60 --no-auto        # HD pages, the one pass
    ... --reader tiles --size 4000x3000 --pages 40 --gate 0   # predict's tiles, every tile run

Pages: dev pages of data.pages (MNIST train[50000:] + USPS train[6000:]): the bench script's dev set
(mixed sizes, seeds from the dev seed), or with --size all of one size (seeds from the dev seed + 50000);
--split synth: pages of the old generator (data.synth) of MNIST train[50000:], seed 4321, digits only;
--split train: pages of the training digits at the training pages' seeds (does a model read what it learned
from better than the dev pages? a check for overfitting, never a figure to quote).
Prints recall / precision / read right / numbers whole (data.pages.score), the net runs and the time;
--by-height adds recall, precision and read right per digit height; --by-label the same per digit (the true
label; precision over the boxes read as that digit); --by-legibility recall and read right per legibility
class of the digits (clear / fair / poor: data.pages.score.LEGIBILITY); --true-boxes the classifier alone on
every digit cut at its true box, the read right that perfect boxes would give.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def dev_pages(mnist: str, usps: str, split: str, n: int, size: str | None, workers: int):
    from edge_digits.data.pages import SPLITS, Page, banks, make_page

    if split == "synth":
        from edge_digits.data import synth

        d = np.load(mnist)
        return [Page(p.image, p.boxes, p.labels, [], p.ignore, {"generator": "synth"})
                for p in synth.make_pages(d["x_train"][50000:], d["y_train"][50000:], n, seed=4321)]
    if size:
        w, h = (int(v) for v in size.lower().split("x"))
        bank = banks(mnist, usps, split)
        return [make_page(bank, np.random.default_rng(SPLITS[split]["seed"] + 50000 + i), size=(w, h)) for i in range(n)]
    from bench_camera import make

    return make(mnist, usps, split, n, workers)


def number_failures(pages, results) -> dict:
    """Each true number, by the first reason it was not read whole (a digit not found at IoU 0.5, a digit
    misread, its digits in two or more numbers, or in one number with other digits), or whole."""
    from edge_digits.core.boxes import match

    why = dict.fromkeys(("whole", "digit missing", "digit misread", "split", "joined"), 0)
    for p, r in zip(pages, results):
        found = np.array([d[0] for d in r["digits"]], float).reshape(-1, 4)
        of = dict(match(p.boxes, found, 0.5)) if len(p.boxes) and len(found) else {}
        group = {k: g for g, n in enumerate(r["numbers"]) for k in n[2]}
        for n in p.numbers:
            got = [of.get(i) for i in n.digits]
            if any(g is None for g in got):
                why["digit missing"] += 1
            elif any(r["digits"][g][1] != int(p.labels[i]) for i, g in zip(n.digits, got)):
                why["digit misread"] += 1
            elif len({group[g] for g in got}) > 1:
                why["split"] += 1
            elif len(r["numbers"][group[got[0]]][2]) != len(got):
                why["joined"] += 1
            else:
                why["whole"] += 1
    return why


def main() -> None:
    from data_args import add_data_args, check_data_args

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_args(ap)
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--split", choices=("dev", "synth", "train"), default="dev",
                    help="train: pages of the training digits at the training page seeds, a check for overfitting only")
    ap.add_argument("--size", help="WxH: pages of this size only (default: the bench script's mixed sizes)")
    ap.add_argument("--reader", choices=("learned", "tiles"), default="learned",
                    help="learned: camera's default; tiles: predict's default (camera --tiles)")
    ap.add_argument("--detector", help="detector file (default: the shipped fp16 one), e.g. export/detector/detector_int8.tflite")
    ap.add_argument("--refiner", help="box refiner file (default: the shipped export/refine one), e.g. a new box-refine_int8.tflite")
    ap.add_argument("--classifier", help="classifier file (default: the shipped camera model), e.g. a new edge-cam's int8 .tflite")
    ap.add_argument("--no-auto", action="store_true", help="learned: the one pass only (camera --no-tiles)")
    ap.add_argument("--heat", type=float, help="peak threshold (vision.detector.HEAT_T)")
    ap.add_argument("--accept", help="accept model file (default: the shipped export/accept/accept.json)")
    ap.add_argument("--accept-t", type=float, help="the accept model's threshold (vision.accept.THRESHOLD)")
    ap.add_argument("--no-accept", action="store_true", help="no accept model: every candidate read at --min-confidence")
    ap.add_argument("--link", type=float, help="link threshold (LINK_T), with --no-links")
    ap.add_argument("--links", help="link model file (default: the shipped export/links/links.json)")
    ap.add_argument("--links-t", type=float, help="the link model's threshold (vision.links.THRESHOLD)")
    ap.add_argument("--no-links", action="store_true", help="no link model: neighbours linked where the link map passes --link")
    ap.add_argument("--view-grow", type=float, help="the classifier's second view, box grown this a side (vision.crops.VIEW_GROW); 0: one view")
    ap.add_argument("--gate", type=float, help="tiles run where a coarser pass's heat reached this (TILE_GATE_T); 0: all")
    ap.add_argument("--max-levels", type=int, help="tiled levels (vision.tiles.MAX_LEVELS)")
    ap.add_argument("--small-h", type=float, help="camera: 2x tiles near digits under this many net px (SMALL_H); 0: none")
    ap.add_argument("--small-gate", type=float, help="camera: ... where that heat reached this (SMALL_GATE_T)")
    ap.add_argument("--small-tiles", type=int, help="camera: at most this many such tiles a frame (SMALL_TILES); 0: any")
    ap.add_argument("--min-confidence", type=float, help="classifier threshold (config.MIN_CONFIDENCE)")
    ap.add_argument("--by-height", action="store_true")
    ap.add_argument("--by-legibility", action="store_true",
                    help="also recall and read right per legibility class of the digits (data.pages.score.LEGIBILITY)")
    ap.add_argument("--by-label", action="store_true")
    ap.add_argument("--why-numbers", action="store_true",
                    help="also why the true numbers not read whole were not: a digit missing, misread, or the "
                         "number split or joined with others")
    ap.add_argument("--by-condition", metavar="NAME", help="also the figures per value of this condition (layout, pen, ...)")
    ap.add_argument("--true-boxes", action="store_true",
                    help="also the classifier alone on each digit cut at its true box (read right with perfect boxes)")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    check_data_args(a)
    if a.accept_t is not None and not 0 <= a.accept_t <= 1:  # nan fails this too
        sys.exit(f"error: --accept-t must be in 0..1, got {a.accept_t}")
    if a.links_t is not None and not 0 <= a.links_t <= 1:  # nan fails this too
        sys.exit(f"error: --links-t must be in 0..1, got {a.links_t}")
    if a.view_grow is not None and not 0 <= a.view_grow <= 0.5:  # also refuses nan
        sys.exit(f"error: --view-grow must be between 0 and 0.5 (a share of the box a side), got {a.view_grow}")
    cv2.setNumThreads(1)  # as `camera` and `predict` run
    from edge_digits import runtime
    from edge_digits.config import camera_model
    from edge_digits.data.pages.score import score
    from edge_digits.vision import detector as D
    from edge_digits.vision import pipeline, tiles
    from bench_camera import as_result, true_box_reads

    if a.max_levels is not None:
        tiles.MAX_LEVELS = a.max_levels
    from edge_digits.config import EdgeDigitsError

    try:  # a model file that is not there or does not load: the library's one-line error
        # the shipped accept and link models only where no other file replaces them (a model fitted on new
        # features is read by a reader whose shipped file no longer matches them)
        det = D.load_detector(a.detector, threads=1, tiles=True if a.reader == "tiles" else (False if a.no_auto else D.AUTO),
                              accept=not (a.accept or a.no_accept), links=not (a.links or a.no_links))
        clf = runtime.load(a.classifier or camera_model(), threads=1)
        if a.refiner:
            from edge_digits.vision.refine import load_refiner

            det.refiner = load_refiner(a.refiner, threads=1)
        if a.accept:
            from edge_digits.vision.accept import load_accept

            det.accept = load_accept(a.accept)
        if a.links:
            from edge_digits.vision.links import load_links

            det.links = load_links(a.links)
    except EdgeDigitsError as e:
        sys.exit(f"error: {e}")
    if a.no_accept:
        det.accept = None
    elif a.accept_t is not None:
        det.accept.threshold = a.accept_t
    if a.no_links:
        det.links = None
    elif a.links_t is not None:
        det.links.threshold = a.links_t
    for attr, v in (("heat_t", a.heat), ("link_t", a.link),
                    ("view_grow", a.view_grow)):
        if v is not None:
            setattr(det, attr, v)
    if a.small_h is not None:
        det.small_h = a.small_h or None
    if a.small_gate is not None:
        det.small_gate_t = a.small_gate
    if a.small_tiles is not None:
        det.small_tiles = a.small_tiles or None
    if a.gate is not None:
        det.tile_gate_t = a.gate or None
    runs = [0]
    net_run = det.net.run

    def counted(x):
        runs[0] += 1
        return net_run(x)

    det.net.run = counted
    minc = a.min_confidence  # None: the reader's own (the accept model alone; without it MIN_CONFIDENCE)
    pages = dev_pages(a.mnist, a.usps, a.split, a.pages, a.size, a.workers)
    t0 = time.time()
    results = [as_result(pipeline.read_frame(p.image, clf, min_confidence=minc, detector=det)) for p in pages]
    dt = time.time() - t0
    rep = score(pages, results)
    o = rep["overall"]
    print(f"{len(pages)} pages, {o['digits']} digits: recall {100 * o['recall']['value']:.2f}% precision "
          f"{100 * o['precision']['value']:.2f}% read right {100 * o['read_right']['value']:.2f}% numbers whole "
          f"{100 * o['numbers_whole']['value']:.2f}%; {runs[0]} detector runs, {dt:.1f} s")
    for value, m in rep["by_condition"].get(a.by_condition, {}).items() if a.by_condition else ():
        print(f"  {a.by_condition}={value}: {m['recall']['n']:5d} digits, recall {100 * m['recall']['value']:.1f}% precision "
              f"{100 * m['precision']['value']:.1f}% read right {100 * m['read_right']['value']:.1f}% numbers whole "
              f"{100 * m['numbers_whole']['value']:.1f}% of {m['numbers_whole']['n']}")
    for name, m in rep["by_legibility"].items() if a.by_legibility else ():
        print(f"  legibility={name}: {m['recall']['n']:5d} digits, recall {100 * m['recall']['value']:.1f}% "
              f"read right {100 * m['read_right']['value']:.1f}%")
    if a.why_numbers:
        why = number_failures(pages, results)
        n = sum(why.values())
        print("  numbers: " + ", ".join(f"{k} {v} ({100 * v / max(n, 1):.1f}%)" for k, v in why.items()))
    if a.true_boxes:
        reads = true_box_reads(pages, clf, det.view_grow)
        for key, (right, n) in sorted(reads.items()):
            if key != "all" and not (a.by_condition and key.startswith(a.by_condition + "=")) and \
                    not (a.by_legibility and key.startswith("legibility=")):
                continue
            print(f"  classifier on the true boxes, {key}: {n} digits, read right {100 * right / max(n, 1):.2f}%")
    for key, on in (("by_height", a.by_height), ("by_label", a.by_label)):
        for name, m in rep[key].items() if on else ():
            print(f"  {name:>10}: {m['recall']['n']:5d} digits, recall {100 * m['recall']['value']:.1f}% precision "
                  f"{100 * m['precision']['value']:.1f}% read right {100 * m['read_right']['value']:.1f}%")


if __name__ == "__main__":
    main()
