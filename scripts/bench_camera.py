"""Benchmark the digit readers of `camera` and `predict` on generated photo pages, per condition; write
benchmarks/camera.md and benchmarks/camera.json.

    .venv/bin/python scripts/bench_camera.py --mnist ../shared/data/mnist.npz --usps ../shared/data/usps.npz

Pages: edge_digits.data.pages, real handwriting (MNIST and USPS digits, re-stroked with a drawn pen) under
drawn photo conditions. Two sets, from digit pools no training saw (data.pages.SPLITS):
  dev    MNIST train[50000:] + USPS train[6000:], the pages every threshold was tuned on;
  bench  MNIST test + USPS test, pages nothing was tuned on: the figures to quote.
And a check on pages of another generator:
  synth  300 pages of the old generator (data.synth, MNIST test digits, seed 90210), digits only.
Readers, all with the shipped models on LiteRT (int8 classifiers and refiner, fp16 detector), 1 thread:
  learned  camera's default: the learned detector (export/detector) + the camera classifier (export/camera);
           a page bigger than 640x480 also read in tiles at 2x the one pass's scale (vision.detector.AUTO)
  tiles    predict's default (camera --tiles): the same, each page also read in overlapping tiles at 2x
           and 4x the scale (vision/tiles)
  rules    --detector rules: the hand-tuned detector and box fit (vision/rules) + the same classifier
  otsu     the ten-line Otsu-and-contours pipeline (vision/otsu) + the MNIST model (export/), as its
           app reads; numbers by a gap rule
Accuracy (data.pages.score): recall and precision of digit boxes (IoU >= 0.5, one to one), read right
(found and labelled right, over all true digits), numbers read whole (a true number whose exact text a
found number has, at IoU >= 0.5), overall, per condition value and per digit height, with 95% intervals.
Speed (learned reader): 640x480 pages with up to 8 digits, each decoded from PNG apart, then one
read_frame call timed; several passes, each pass's frames/s and p99 listed. Then a 12-megapixel phone
photo (4000x3000 JPEG) through `predict`'s own function with its tiles, decode included.
Models: the shipped int8 camera classifier on MNIST test and USPS test (neither trained on) through
LiteRT, and the sizes of the shipped detector files (fp16, which the readers run, and int8).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
READERS = ("learned", "tiles", "rules", "otsu")
GOALS = {"recall": 0.995, "precision": 0.995, "read_right": 0.98, "numbers_whole": 0.95, "class_recall": 0.98,
         "fps": 400.0, "p99_ms": 5.0, "photo_ms": 150.0, "mnist": 0.996, "usps": 0.985, "detector_kb": 300.0}
_BANK = None


def _init(mnist, usps, split):
    global _BANK
    from edge_digits.data.pages import banks

    _BANK = banks(mnist, usps, split)


def _page(seed: int):
    from edge_digits.data.pages import make_page

    return make_page(_BANK, np.random.default_rng(seed))


def synth_pages(mnist: str, n: int):
    """Pages of the old generator (data.synth: the rules detector's home ground) of MNIST test digits,
    seed 90210, as data.pages pages (digits only: its numbers carry no boxes, so they are not scored)."""
    from edge_digits.data import synth
    from edge_digits.data.pages import Page

    d = np.load(mnist)
    return [Page(p.image, p.boxes, p.labels, [], p.ignore, {"generator": "synth"})
            for p in synth.make_pages(d["x_test"], d["y_test"], n, seed=90210)]


def make(mnist: str, usps: str, split: str, n: int, workers: int):
    from edge_digits.data.pages import SPLITS

    if split == "synth":
        return synth_pages(mnist, min(n, 300))

    seeds = [SPLITS[split]["seed"] + i for i in range(n)]
    with Pool(workers, initializer=_init, initargs=(mnist, usps, split)) as pool:
        return pool.map(_page, seeds, chunksize=16)


def readers(names):
    from edge_digits import runtime
    from edge_digits.config import camera_model, default_model
    from edge_digits.vision import otsu, pipeline
    from edge_digits.vision.detector import AUTO, load_detector
    from edge_digits.vision.rules import boxfit

    classifier = runtime.load(camera_model(), threads=1)
    out = {}
    if "learned" in names:
        det = load_detector(threads=1, tiles=AUTO)  # camera's default
        out["learned"] = lambda img: pipeline.read_frame(img, classifier, detector=det)
    if "tiles" in names:
        tiled = load_detector(threads=1, tiles=True)
        out["tiles"] = lambda img: pipeline.read_frame(img, classifier, detector=tiled)
    if "rules" in names:
        fit = boxfit.load(1)
        out["rules"] = lambda img: pipeline.read_frame(img, classifier, boxfit=fit)
    if "otsu" in names:
        mnist_model = runtime.load(default_model(), threads=1)  # the baseline reads with the MNIST model, as its app does

        def read_otsu(img):
            boxes = otsu.detect(img)
            if not boxes:
                return [], []
            labels = mnist_model.predict(np.stack([otsu.crop28(img, b) for b in boxes])).argmax(1)
            return [(b, int(v)) for b, v in zip(boxes, labels)], otsu.group_numbers(boxes, labels)
        out["otsu"] = read_otsu
    return out


def as_result(res):
    if isinstance(res, tuple):
        return {"digits": res[0], "numbers": res[1]}
    return {"digits": [(d.box, d.label) for d in res.digits], "numbers": [(n.text, n.box, n.digits) for n in res.numbers]}


def speed(pages, read, passes: int) -> dict:
    """Frames/s and p99 of processing on 640x480 pages with up to 8 digits; PNG decode timed apart."""
    frames = [p for p in pages if p.image.shape[:2] == (480, 640) and len(p.boxes) <= 8]
    pngs = [cv2.imencode(".png", p.image)[1] for p in frames]
    decode_ms, runs = [], []
    for f in pngs[:50]:
        read(cv2.imdecode(f, cv2.IMREAD_COLOR))  # warm-up
    for k in range(passes):
        t = []
        for f in pngs:
            t0 = time.perf_counter()
            img = cv2.imdecode(f, cv2.IMREAD_COLOR)
            t1 = time.perf_counter()
            read(img)
            t.append((time.perf_counter() - t1) * 1e3)
            if k == 0:
                decode_ms.append((t1 - t0) * 1e3)
        a = np.array(t)
        runs.append({"fps": float(1e3 / a.mean()), "p50_ms": float(np.percentile(a, 50)),
                     "p99_ms": float(np.percentile(a, 99))})
    best = max(runs, key=lambda r: r["fps"])
    return {"frames": len(frames), "passes": runs, "best": best, "decode_ms": float(np.mean(decode_ms))}


def photo_time(bank_args, tmp: Path, n: int = 5) -> dict:
    """A 4000x3000 phone photo of a page through stills.predict (decode, detect, read), best and mean of n."""
    from edge_digits import runtime
    from edge_digits.app import stills
    from edge_digits.config import camera_model
    from edge_digits.data.pages import banks, make_page
    from edge_digits.vision.detector import load_detector

    bank = banks(*bank_args)
    seed = 7
    while True:  # a page that holds digits to read (some pages' digits all fall off or are illegible)
        page = make_page(bank, np.random.default_rng(seed), size=(4000, 3000))
        if len(page.boxes) >= 8:
            break
        seed += 1
    path = tmp / "photo_12mp.jpg"
    cv2.imwrite(str(path), page.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    classifier, det = runtime.load(camera_model(), threads=1), load_detector(threads=1, tiles=True)  # predict's default
    stills.predict([str(path)], classifier, detector=det)
    t = []
    for _ in range(n):
        t0 = time.perf_counter()
        stills.predict([str(path)], classifier, detector=det)
        t.append((time.perf_counter() - t0) * 1e3)
    return {"size": "4000x3000", "best_ms": float(min(t)), "mean_ms": float(np.mean(t)), "digits": len(page.boxes)}


def models_check(mnist: str, usps: str) -> dict:
    """The shipped int8 classifier (what camera and predict read with) on MNIST test and USPS test, through
    LiteRT as the readers run it, the size of the detector file they run (fp16) and of its int8 file."""
    from edge_digits import runtime
    from edge_digits.config import camera_model, detector_int8_model, detector_model
    from edge_digits.data.mnist import load_mnist
    from edge_digits.data.usps import load_usps
    from edge_digits.training.camera_data import usps_as_mnist

    clf = runtime.load(camera_model(), threads=1)
    out = {"classifier": camera_model().relative_to(ROOT).as_posix(), "detector": detector_model().relative_to(ROOT).as_posix(),
           "detector_bytes": detector_model().stat().st_size,
           "detector_int8_bytes": detector_int8_model().stat().st_size}
    m, u = load_mnist(mnist, download=False), load_usps(usps)
    for name, x, y in (("mnist", m.x_test, m.y_test), ("usps", usps_as_mnist(u.x_test), u.y_test)):
        pred = np.concatenate([clf.predict(x[i:i + 512])[:, :10].argmax(1) for i in range(0, len(x), 512)])
        out[name] = {"digits": int(len(y)), "accuracy": float((pred == y).mean())}
    return out


def true_box_reads(pages, clf, view_grow: float) -> dict:
    """The classifier alone: each true digit cut at its true box as the reader cuts a refined box (both
    views) and read, what read right would be with perfect boxes. {"all" and "condition=value": [right, n]}."""
    from collections import defaultdict

    from edge_digits.data.pages.score import LEGIBILITY, legibility_class
    from edge_digits.vision.crops import classifier_batch, classify_views

    tot = defaultdict(lambda: [0, 0])
    for p in pages:
        if not len(p.boxes):
            continue
        grey = cv2.cvtColor(p.image, cv2.COLOR_BGR2GRAY)
        boxes = [tuple(float(v) for v in b) for b in p.boxes]
        if view_grow:
            batch, _, second = classifier_batch(grey, boxes, in_box=True, view_grow=view_grow)
        else:
            batch, second = classifier_batch(grey, boxes, in_box=True), None
        va, vb = classify_views(clf, batch, second)
        right = (va + vb).argmax(1) == np.asarray(p.labels)
        for key in ["all"] + [f"{k}={v}" for k, v in p.conditions.items() if k != "generator"]:
            tot[key][0] += int(right.sum())
            tot[key][1] += len(right)
        for leg, r in zip(legibility_class(p), right):  # each digit by its own legibility
            if leg >= 0:
                t = tot[f"legibility={LEGIBILITY[int(leg)][0]}"]
                t[0], t[1] = t[0] + int(r), t[1] + 1
    return dict(tot)


def pct(m) -> str:
    if not m["n"]:
        return "-"
    return f"{100 * m['value']:.1f}"


def report_md(doc: dict) -> str:
    L = [f"# Camera and predict: the digit readers on generated photo pages", "",
         f"Made by `{doc['command']}` on {doc['date']} ({doc['machine']}). Every figure below is read from",
         "`benchmarks/camera.json`, written by the same run.", "",
         "Pages: `edge_digits.data.pages`, real handwriting (MNIST and USPS digits re-stroked with a drawn pen)",
         "under drawn photo conditions. **dev**: digits of MNIST train[50000:] and USPS train[6000:], the pages the",
         "detector's thresholds were tuned on. **bench**: MNIST test and USPS test digits, pages nothing was tuned",
         "or trained on; quote these. The detector and classifier trained on pages of MNIST train[:50000] and",
         "USPS train[:6000] only. Readers: **learned** (`camera`'s default: `export/detector` + `export/camera`; a page bigger than 640x480 also in tiles at 2x),",
         "**tiles** (`predict`'s default, `camera --tiles`: the same, also over overlapping tiles at 2x the scale, `vision/tiles.py`),",
         "**rules** (`--detector rules`: the hand-tuned detector with the box fit + `export/camera`), **otsu**",
         "(Otsu threshold and contours + the MNIST model, numbers by a gap rule). **synth**: 300 pages of the old",
         "generator (`data.synth`, MNIST test digits, seed 90210), the rules detector's home ground, as a check on",
         "pages of another generator (digits only: its numbers have no boxes). Cells are percentages.", ""]
    for split, s in doc["splits"].items():
        L += [f"## {split} pages: {s['pages']} pages, {s['digits']} digits, {s['numbers']} numbers", "",
              "| reader | recall | precision | read right | numbers read whole | pages exact |", "|---|---|---|---|---|---|"]
        for r, rep in s["readers"].items():
            o = rep["overall"]
            ci = lambda m: f"{pct(m)} ({100 * m['ci'][0]:.1f}-{100 * m['ci'][1]:.1f})" if m["n"] else "-"  # noqa: E731
            exact = pct(o["pages_exact"]) if s["numbers"] else "-"  # pages with no numbers scored: no exact page
            L.append(f"| {r} | {ci(o['recall'])} | {ci(o['precision'])} | {ci(o['read_right'])} | "
                     f"{ci(o['numbers_whole'])} | {exact} |")
        tb = s.get("true_boxes")
        tb_pct = lambda k: f"{100 * tb[k][0] / tb[k][1]:.1f}" if tb and tb.get(k, [0, 0])[1] else "-"  # noqa: E731
        if tb:
            L += ["", f"The classifier alone, each true digit cut at its true box as the reader cuts its own and read "
                      f"(read right with perfect boxes): {tb_pct('all')}% (column *true boxes RR* below)."]
        L += ["", "Recall / precision / read right / numbers whole per condition value (" + " | ".join(s["readers"]) + "):", ""]
        names = list(s["readers"])
        L += ["| condition | value | pages | digits | " + " | ".join(f"{r} R/P/RR/N" for r in names)
              + (" | true boxes RR |" if tb else " |"), "|---|---|---|---|" + "---|" * (len(names) + bool(tb))]
        first = s["readers"][names[0]]["by_condition"]
        for cls, vals in first.items():
            for v, m in vals.items():
                cells = []
                for r in names:
                    q = s["readers"][r]["by_condition"][cls][v]
                    cells.append("/".join(pct(q[k]) for k in ("recall", "precision", "read_right", "numbers_whole")))
                L.append(f"| {cls} | {v} | {m['pages']} | {m['digits']} | " + " | ".join(cells)
                         + (f" | {tb_pct(f'{cls}={v}')} |" if tb else " |"))
        leg_title = ("By legibility of the digit as the photo left it (recall / read right; clear: contrast >= 3x the "
                     "truth line and >= 0.9 of the shape kept, poor: under 1.5x or 0.75, fair: between; "
                     "`data.pages.score.LEGIBILITY`):")
        for key, title, first in (("by_height", "By true digit height (recall / read right):", "height"),
                                  ("by_label", "By digit, the true label (recall / read right):", "digit"),
                                  ("by_legibility", leg_title, "legibility")):
            rows = s["readers"][names[0]].get(key, {})
            if not rows:
                continue
            with_tb = bool(tb) and key == "by_legibility"
            L += ["", title, "", f"| {first} | digits | " + " | ".join(names) + (" | true boxes RR |" if with_tb else " |"),
                  "|---|---|" + "---|" * (len(names) + with_tb)]
            for h, m in rows.items():
                cells = [f"{pct(s['readers'][r][key][h]['recall'])} / {pct(s['readers'][r][key][h]['read_right'])}"
                         if h in s["readers"][r].get(key, {}) else "-" for r in names]
                L.append(f"| {h} | {m['digits']} | " + " | ".join(cells) + (f" | {tb_pct(f'legibility={h}')} |" if with_tb else " |"))
        L.append("")
    if doc.get("speed"):
        sp = doc["speed"]
        L += ["## Speed (learned reader, shipped models: int8 classifier and refiner, fp16 detector; LiteRT, 1 thread)", "",
              f"{sp['frames']} dev pages of 640x480 with up to 8 digits; PNG decode {sp['decode_ms']:.2f} ms a frame, apart.", "",
              "| pass | frames/s | p50 ms | p99 ms |", "|---|---|---|---|"]
        for i, r in enumerate(sp["passes"]):
            L.append(f"| {i + 1} | {r['fps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")
        if doc.get("speed_tiles"):
            t = doc["speed_tiles"]["best"]
            L += ["", f"The tiles reader (`camera --tiles`, `predict`'s default) on the same frames: {t['fps']:.0f} frames/s, "
                  f"p50 {t['p50_ms']:.2f} ms, p99 {t['p99_ms']:.2f} ms (one pass)."]
        if doc.get("photo"):
            p = doc["photo"]
            L += ["", f"A {p['size']} JPEG phone photo through `predict` (decode, detect, read): best {p['best_ms']:.0f} ms, "
                  f"mean {p['mean_ms']:.0f} ms of 5; the page holds {p['digits']} digits."]
        L.append("")
    if doc.get("models"):
        mo = doc["models"]
        L += ["## Models", "", f"`{mo['classifier']}` (int8, LiteRT, 1 thread): MNIST test {100 * mo['mnist']['accuracy']:.2f}% "
              f"of {mo['mnist']['digits']:,}, USPS test {100 * mo['usps']['accuracy']:.2f}% of {mo['usps']['digits']:,} "
              f"(neither trained on). `{mo['detector']}` (the detector they run): {mo['detector_bytes']:,} bytes; "
              f"its int8 file: {mo['detector_int8_bytes']:,} bytes.", ""]
    if doc.get("goals"):
        L += ["## Goals (issue 14), on the bench pages", "", "| goal | target | measured | met |", "|---|---|---|---|"]
        for g in doc["goals"]:
            L.append(f"| {g['goal']} | {g['target']} | {g['measured']} | {'yes' if g['met'] else 'no'} |")
        L.append("")
    return "\n".join(L)


def goals(doc: dict) -> list[dict]:
    out = []
    s = doc["splits"].get("bench") or next(iter(doc["splits"].values()))
    for reader, who in (("learned", "camera"), ("tiles", "predict")):
        o = s["readers"].get(reader, {}).get("overall")
        if not o:
            continue
        for k in ("recall", "precision", "read_right", "numbers_whole"):
            v = o[k]["value"]
            out.append({"goal": f"{who}: {k.replace('_', ' ')}", "target": f">= {100 * GOALS[k]:.1f}%",
                        "measured": f"{100 * v:.2f}%", "met": v >= GOALS[k]})
        worst = min(((cls, val, m["recall"]["value"]) for cls, vals in s["readers"][reader]["by_condition"].items()
                     for val, m in vals.items() if m["recall"]["n"]), key=lambda t: t[2])
        out.append({"goal": f"{who}: recall in every condition value", "target": ">= 98%",
                    "measured": f"lowest {100 * worst[2]:.2f}% ({worst[0]}={worst[1]})", "met": worst[2] >= GOALS["class_recall"]})
    if doc.get("speed"):
        b = doc["speed"]["best"]
        out.append({"goal": "frames/s, 640x480, 1 thread (best pass)", "target": ">= 400", "measured": f"{b['fps']:.0f}", "met": b["fps"] >= 400})
        out.append({"goal": "p99 per frame (best pass)", "target": "<= 5 ms", "measured": f"{b['p99_ms']:.2f} ms", "met": b["p99_ms"] <= 5})
    if doc.get("photo"):
        p = doc["photo"]
        out.append({"goal": "12 MP photo through predict (best of 5)", "target": "<= 150 ms", "measured": f"{p['best_ms']:.0f} ms",
                    "met": p["best_ms"] <= 150})
    if doc.get("models"):
        mo = doc["models"]
        for k, name in (("mnist", "MNIST test"), ("usps", "USPS test")):
            v = mo[k]["accuracy"]
            out.append({"goal": f"classifier: {name} (int8)", "target": f">= {100 * GOALS[k]:.1f}%",
                        "measured": f"{100 * v:.2f}%", "met": v >= GOALS[k]})
        kb = mo["detector_int8_bytes"] / 1000
        out.append({"goal": "detector int8 file", "target": f"<= {GOALS['detector_kb']:.0f} KB", "measured": f"{kb:.1f} KB",
                    "met": kb <= GOALS["detector_kb"]})
    return out


def main() -> None:
    from data_args import add_data_args, check_data_args

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_args(ap)
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--splits", default="dev,bench,synth",
                    help="dev, bench (data.pages), synth (300 pages of the old generator)")
    ap.add_argument("--readers", default=",".join(READERS))
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--workers", type=int, default=2, help="processes generating pages")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "camera"), help="writes OUT.md and OUT.json")
    a = ap.parse_args()
    check_data_args(a)
    cv2.setNumThreads(1)  # as `camera` and `predict` run
    from edge_digits.core import files
    from edge_digits.data.pages.score import score

    names = [r for r in a.readers.split(",") if r]
    fns = readers(names)
    doc = {"command": "python scripts/bench_camera.py " + " ".join(sys.argv[1:]).replace(str(Path(a.mnist).parent) + "/", ""),
           "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
           "splits": {}}
    dev_pages = None
    true_clf = None
    if "learned" in names:  # the learned reader's classifier, loaded once for the true-box reads of every split
        from edge_digits import runtime
        from edge_digits.config import camera_model
        from edge_digits.vision.crops import VIEW_GROW

        true_clf = runtime.load(camera_model(), threads=1)
    for split in a.splits.split(","):
        t0 = time.time()
        pages = make(a.mnist, a.usps, split, a.pages, a.workers)
        print(f"{split}: {len(pages)} pages in {time.time() - t0:.0f} s", file=sys.stderr)
        entry = {"pages": len(pages), "digits": int(sum(len(p.boxes) for p in pages)),
                 "numbers": int(sum(len(p.numbers) for p in pages)), "readers": {}}
        for r in names:
            t0 = time.time()
            rep = score(pages, [as_result(fns[r](p.image)) for p in pages])
            entry["readers"][r] = rep
            o = rep["overall"]
            print(f"  {r}: recall {o['recall']['value']:.4f} precision {o['precision']['value']:.4f} read right "
                  f"{o['read_right']['value']:.4f} numbers {o['numbers_whole']['value']:.4f} ({time.time() - t0:.0f} s)",
                  file=sys.stderr)
        if true_clf is not None:  # the classifier alone on perfect boxes: how much of read right the boxes cost
            entry["true_boxes"] = true_box_reads(pages, true_clf, VIEW_GROW)
        doc["splits"][split] = entry
        if split == "dev":
            dev_pages = pages
    if not a.no_speed and "learned" in fns:
        doc["speed"] = speed(dev_pages or pages, fns["learned"], a.passes)
        if "tiles" in fns:  # what `camera --tiles` costs a frame (a 640x480 frame: one level of 9 tiles at 2x)
            doc["speed_tiles"] = speed(dev_pages or pages, fns["tiles"], 1)
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            doc["photo"] = photo_time((a.mnist, a.usps, "bench"), Path(tmp))
    doc["models"] = models_check(a.mnist, a.usps)
    doc["goals"] = goals(doc)
    files.write_json(Path(a.out + ".json"), doc)
    files.write_text(Path(a.out + ".md"), report_md(doc))
    print(f"wrote {a.out}.md and {a.out}.json", file=sys.stderr)


if __name__ == "__main__":
    main()
