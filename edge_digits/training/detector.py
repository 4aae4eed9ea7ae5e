"""`edge-digits train --arch detector`: the learned digit detector (training.detector_model) trained on
generated photo pages (data.pages) of the MNIST and USPS training digits, scored on development pages.

Samples: each page once as it is and once as a random zoomed crop (up to 1.8x; a digit the crop cuts
becomes an ignore region, a number loses its cut digits), with random exposure and gamma, letterboxed to
the net's 320x240 input; targets as detector_targets.encode_targets. The loop is a fixed number of steps
with a warm-up and a cosine learning rate (deterministic for a seed on one machine); three steps in four
train on 160x224 windows of the samples centred near a digit, the fourth on whole samples. Ctrl-C keeps
the weights so far. --focus CONDITION=VALUE:SHARE forces a page condition on that share of the pages. The
run folder (model.keras, metrics.json: dev recall, precision, numbers linked right; history.csv, curves.png)
is written to a temporary sibling and renamed when complete.
"""
from __future__ import annotations

import functools
import math
import signal
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from edge_digits.config import EdgeDigitsError, TrainConfig
from edge_digits.core import files, provenance
from edge_digits.core.quiet import import_tensorflow
from edge_digits.vision.detector import IN_H, IN_W, STRIDE, decode, to_input

# The recipe: 14,000 steps, 42 min of training on 2 cores here (45 with the pages), over the 30 min,
# for a net that reads better than the 8,000-step one (31 min): 500 dev pages, camera reader, both in float,
# recall 83.1 -> 85.0%, precision 90.3 -> 91.6%, numbers whole 57.1 -> 61.3%. Through int8 that lead is lost
# (83.5 / 89.9 / 56.2%), so the readers run its fp16 file (config.detector_model). Smaller crops (128x160),
# 11,000 steps in 28 min: 83.5 / 90.4 / 54.9% (benchmarks/camera.md's notes).
PAGES, EPOCHS, BATCH, LR, WARM = 8000, 14, 16, 3e-3, 150
# Most steps train on crops of the samples (CenterNet trains on crops too): a step costs what its pixels
# cost (5.4 Mpix/s here, whatever the shape), and most of a page is empty paper, so crops centred near a
# digit teach more a second. One step in FULL_EVERY sees whole 320x240 samples (a digit 70% of the frame
# tall fits only there). Crop sides are multiples of 32 (the net's coarsest stride).
CROP_H, CROP_W, CROP_BATCH, FULL_EVERY, NEAR_DIGIT = 160, 224, 24, 4, 0.75
# The zoomed sample's largest zoom. 3.0 (past most pages' own pixels: bigger digits, full-size grain for
# predict's tiles) trained to the same float dev figures but lost 2.5 points of recall and 9 of precision
# in int8, so the shipped detector keeps 1.8.
ZOOM = 1.8
DEV_PAGES, DEV_SEED = 300, 2_000_000  # the dev pages train scores on (seeds DEV_SEED + i)
_W: dict = {}


def _log(msg: str, cfg: TrainConfig) -> None:
    if cfg.verbose:
        print(msg, file=sys.stderr, flush=True)


def augment(page, rng: np.random.Generator, zoom: bool = True):
    """A page (or a random zoomed crop of it) -> (grey, boxes, numbers, ignore) in its own pixels."""
    g = cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY)
    H, W = g.shape
    boxes = np.asarray(page.boxes, np.float32).reshape(-1, 4)
    ignore = np.asarray(page.ignore, np.float32).reshape(-1, 4)
    nums = [list(n.digits) for n in page.numbers]
    if zoom and rng.random() < 0.6:
        z = math.exp(rng.uniform(0, math.log(ZOOM)))
        cw, ch = int(W / z), int(H / z)
        x0, y0 = int(rng.integers(0, W - cw + 1)), int(rng.integers(0, H - ch + 1))
        g = g[y0: y0 + ch, x0: x0 + cw]
        boxes, ignore = boxes - np.float32([x0, y0, 0, 0]), ignore - np.float32([x0, y0, 0, 0])
        inside = ((boxes[:, 0] >= 1) & (boxes[:, 1] >= 1) & (boxes[:, 0] + boxes[:, 2] <= cw - 1)
                  & (boxes[:, 1] + boxes[:, 3] <= ch - 1))
        touch = ((boxes[:, 0] < cw) & (boxes[:, 1] < ch) & (boxes[:, 0] + boxes[:, 2] > 0)
                 & (boxes[:, 1] + boxes[:, 3] > 0))
        ignore = np.concatenate([ignore, boxes[touch & ~inside]])
        new = -np.ones(len(boxes), int)
        new[inside] = np.arange(inside.sum())
        boxes = boxes[inside]
        cut = []
        for nm in nums:  # a number the crop cuts falls apart where its digits went
            cur = []
            for i in nm:
                if new[i] >= 0:
                    cur.append(int(new[i]))
                elif cur:
                    cut.append(cur)
                    cur = []
            if cur:
                cut.append(cur)
        nums = cut
    if rng.random() < 0.7:  # exposure, contrast, gamma
        f = g.astype(np.float32) / 255.0
        f = np.clip(f ** rng.uniform(0.7, 1.4) * rng.uniform(0.75, 1.15) + rng.uniform(-0.08, 0.08), 0, 1)
        g = (f * 255).astype(np.uint8)
    return np.ascontiguousarray(g), boxes, nums, ignore


def make_sample(page, rng, zoom: bool = True):
    """-> (uint8 (IN_H, IN_W) net input, (IN_H/4, IN_W/4, 9) float16 targets)."""
    from edge_digits.training.detector_targets import encode_targets, stack_targets

    g, boxes, nums, ignore = augment(page, rng, zoom)
    t = encode_targets(boxes, nums, ignore, (IN_W, IN_H), (g.shape[1], g.shape[0]))
    return to_input(g, (IN_W, IN_H)), stack_targets(t)


def _init(sets):
    from edge_digits.data.pages import DigitBank

    _W["bank"] = DigitBank.from_arrays(*sets)


def parse_focus(text: str) -> tuple[dict, float]:
    """--focus "pen=pencil:0.33" -> ({"pen": "pencil"}, 0.33); anything else is a one-line EdgeDigitsError."""
    from edge_digits.data.pages import CONDITIONS

    cond, _, share = str(text).partition(":")
    key, _, value = cond.partition("=")
    f = float(share) if share.replace(".", "", 1).isdigit() else -1.0
    if key not in CONDITIONS or value not in CONDITIONS[key] or not 0 < f <= 1:
        raise EdgeDigitsError(f"--focus {text!r}: expected CONDITION=VALUE:SHARE with a share in (0, 1], e.g. "
                              f"pen=pencil:0.33 (conditions: {', '.join(CONDITIONS)})")
    return {key: value}, f


def focus_page(seed: int, focus: tuple[dict, float] | None = None):
    """The training page of this seed (from the worker's digit bank); with focus (parse_focus), its condition
    forced on that share of the pages, which ones drawn from the seed (a page is the same however chunked)."""
    from edge_digits.data.pages import make_page

    forced = focus[0] if focus and np.random.default_rng(seed + 13).random() < focus[1] else {}
    return make_page(_W["bank"], np.random.default_rng(seed), **forced)


def _samples(seeds, focus: tuple[dict, float] | None = None):
    xs, ys = [], []
    for s in seeds:
        page, rng = focus_page(s, focus), np.random.default_rng(s + 7)
        for zoom in (False, True):
            x, y = make_sample(page, rng, zoom)
            xs.append(x), ys.append(y)
    return np.stack(xs), np.stack(ys)


def _pages(seeds):
    from edge_digits.data.pages import make_page

    return [make_page(_W["bank"], np.random.default_rng(s)) for s in seeds]


def _pool_chunks(fn, sets, seeds: list[int], workers: int, chunk: int = 50):
    """fn over chunks of page seeds in `workers` processes (each with its own digit bank), yielded in
    seed order as they come, so a caller can keep each chunk's result without holding all of them."""
    from multiprocessing import get_context

    chunks = [seeds[i: i + chunk] for i in range(0, len(seeds), chunk)]
    if workers <= 1:
        _init(sets)
        yield from (fn(c) for c in chunks)
        return
    with get_context("spawn").Pool(workers, initializer=_init, initargs=(sets,)) as pool:
        yield from pool.imap(fn, chunks)


def _sample_arrays(sets, seeds: list[int], workers: int, focus: tuple[dict, float] | None = None):
    """The training samples of these page seeds (two a page) in arrays filled as the chunks come: the
    samples of 8,000 pages take 2.6 GB, and joining lists of chunks needed twice that at its peak."""
    n = 2 * len(seeds)
    X = np.empty((n, IN_H, IN_W), np.uint8)
    Y = np.empty((n, IN_H // STRIDE, IN_W // STRIDE, 9), np.float16)
    pos = 0
    for x, y in _pool_chunks(functools.partial(_samples, focus=focus), sets, seeds, workers):
        X[pos: pos + len(x)], Y[pos: pos + len(y)] = x, y
        pos += len(x)
    return X[:pos], Y[:pos]


def generate_pages(sets, seeds: list[int], workers: int = 2) -> list:
    """The pages of these seeds from these digit pools (split_sets), made in `workers` processes."""
    return [p for chunk in _pool_chunks(_pages, sets, seeds, workers) for p in chunk]


def crop_batch(X: np.ndarray, Y: np.ndarray, idx: np.ndarray, positives: list[np.ndarray],
               rng: np.random.Generator, crop=(CROP_H, CROP_W)) -> tuple[np.ndarray, np.ndarray]:
    """CROP_H x CROP_W windows of the samples idx (net inputs X, targets Y at 1/STRIDE), each centred near
    one of its digits (positives[i]: the (row, col) cells of sample i's peaks) with NEAR_DIGIT probability,
    else anywhere; window corners on the target grid, so input and targets stay aligned."""
    ch, cw = crop[0] // STRIDE, crop[1] // STRIDE
    hh, ww = Y.shape[1:3]
    xs, ys = [], []
    for i in idx:
        pos = positives[i]
        if len(pos) and rng.random() < NEAR_DIGIT:
            r, c = pos[rng.integers(len(pos))]
            r0 = int(r) - int(rng.integers(ch // 6, ch - ch // 6))
            c0 = int(c) - int(rng.integers(cw // 6, cw - cw // 6))
        else:
            r0, c0 = int(rng.integers(0, hh - ch + 1)), int(rng.integers(0, ww - cw + 1))
        r0, c0 = min(max(r0, 0), hh - ch), min(max(c0, 0), ww - cw)
        xs.append(X[i, r0 * STRIDE: (r0 + ch) * STRIDE, c0 * STRIDE: (c0 + cw) * STRIDE])
        ys.append(Y[i, r0: r0 + ch, c0: c0 + cw])
    return np.stack(xs), np.stack(ys)


def split_sets(mnist, usps, split: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The digit pools of a page split (data.pages.SPLITS) from loaded MNIST and USPS arrays."""
    from edge_digits.data.pages import SPLITS

    out = []
    for name, d in (("mnist", mnist), ("usps", usps)):
        if d is None:
            continue
        key, lo, hi = SPLITS[split][name]
        x, y = (d.x_train, d.y_train) if key == "x_train" else (d.x_test, d.y_test)
        out.append((x[lo:hi], y[lo:hi]))
    return out


def keras_dev_scores(model, mnist, usps, n_pages: int = DEV_PAGES, workers: int = 2) -> dict:
    """dev_scores of a Keras detector on the first n_pages dev pages (train's and blend_detector's figure)."""
    def maps(x):
        out = model(x[None, ..., None].astype(np.float32), training=False)
        return np.asarray(out["prob"])[0], np.asarray(out["geom"])[0]

    return dev_scores(maps, generate_pages(split_sets(mnist, usps, "dev"), [DEV_SEED + i for i in range(n_pages)], workers))


def dev_scores(predict_maps, pages, in_size: tuple[int, int] = (IN_W, IN_H)) -> dict:
    """Recall, precision (IoU >= 0.5, ignore boxes excluded) and numbers linked right (a true number of
    2+ digits whose digits are all found and are exactly one found group) of a detector on pages, its
    boxes snapped to their ink and deduplicated as the reader does (vision.pipeline.read_learned).
    in_size (W, H): the net's input, each frame letterboxed into it."""
    from edge_digits.core.boxes import inside_matrix, match
    from edge_digits.vision.crops import classifier_batch
    from edge_digits.vision.detector import dedupe

    n_true = n_found = hit = n_num = num_ok = 0
    for p in pages:
        g = cv2.cvtColor(p.image, cv2.COLOR_BGR2GRAY)
        prob, geom = predict_maps(to_input(g, in_size))
        digits, numbers = decode(prob, geom, (g.shape[1], g.shape[0]), in_size)
        _, snapped = classifier_batch(g, [b for b, _ in digits], return_boxes=True)
        keep, numbers = dedupe(snapped, [s for _, s in digits], numbers)
        fb = np.array([snapped[i] for i in keep], np.float32).reshape(-1, 4)
        off = inside_matrix(fb, p.ignore).max(1, initial=0.0) >= 0.5 if len(p.ignore) else np.zeros(len(fb), bool)
        pairs = match(p.boxes, fb[~off] if len(fb) else fb)
        keep = np.flatnonzero(~off)
        n_true, n_found, hit = n_true + len(p.boxes), n_found + int((~off).sum()), hit + len(pairs)
        of = {i: int(keep[j]) for i, j in pairs}
        group = {k: gi for gi, grp in enumerate(numbers) for k in grp}
        for n in p.numbers:
            if len(n.digits) < 2:
                continue
            n_num += 1
            got = [of.get(i) for i in n.digits]
            if all(v is not None for v in got) and len({group[v] for v in got}) == 1 \
                    and len(numbers[group[got[0]]]) == len(got):
                num_ok += 1
    return {"pages": len(pages), "digits": n_true, "recall": hit / max(n_true, 1), "precision": hit / max(n_found, 1),
            "numbers_linked": num_ok / max(n_num, 1), "numbers": n_num}


def train(cfg: TrainConfig):
    """Train the detector; returns training.train.RunResult."""
    from edge_digits.data.mnist import load_mnist
    from edge_digits.data.usps import load_usps, usps_path
    from edge_digits.training.train import RunResult

    if cfg.optimizers:
        raise EdgeDigitsError("--optimizer does not apply to --arch detector (it trains with Adam)")
    mnist = load_mnist(cfg.data)
    if not mnist.full:
        raise EdgeDigitsError("--arch detector needs the full MNIST (its page splits cut the 60,000 training digits)")
    usps = load_usps(cfg.usps) if usps_path(cfg.usps) else None
    if usps is None:
        _log("note: no USPS given (--usps or EDGE_DIGITS_USPS): pages of MNIST digits only", cfg)
    n_pages = cfg.camera_pages or PAGES
    batch, lr = cfg.batch_size or BATCH, cfg.lr or LR
    workers = 2
    tf = import_tensorflow()
    import keras

    from edge_digits.training.detector_model import build_detector, detector_losses, model_stats

    keras.utils.set_random_seed(cfg.seed)
    commit = provenance.git_commit()
    t0 = time.time()
    sets = split_sets(mnist, usps, "train")
    focus = parse_focus(cfg.focus) if cfg.focus else None
    X, Y = _sample_arrays(sets, [1_000_000 + cfg.seed * 100_003 + i for i in range(n_pages)], workers, focus)
    gen_s = time.time() - t0
    steps = (cfg.epochs or EPOCHS) * math.ceil(len(X) / batch)
    _log(f"{len(X):,} samples from {n_pages:,} generated pages in {gen_s:.0f} s", cfg)
    model = build_detector((None, None, 1))  # full samples and crops
    if cfg.init is not None:
        model.set_weights(_init_weights(cfg.init, model))
    stats = model_stats(build_detector((IN_H, IN_W, 1)))
    _log(f"training detector ({stats['params']:,} parameters, {stats['macs'] / 1e6:.1f} M multiply-adds a frame), "
         f"{steps:,} steps of {batch}", cfg)
    opt = keras.optimizers.Adam(learning_rate=lr)

    @tf.function  # one trace a shape (whole samples, crops): the net's upsampling needs static sizes
    def step(x, y):
        with tf.GradientTape() as tape:
            out = model(x, training=True)
            loss, parts_ = detector_losses(y, out)
            loss = loss + 1e-5 * tf.add_n([tf.reduce_sum(v ** 2) for v in model.trainable_variables if "kernel" in v.name])
        grads, _ = tf.clip_by_global_norm(tape.gradient(loss, model.trainable_variables), 10.0)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss, parts_

    rng = np.random.default_rng(cfg.seed + 1)
    order, pos, hist = rng.permutation(len(X)), 0, []
    positives = [np.argwhere(y[..., 0] >= 0.999) for y in Y]
    asked = []

    def on_stop(signum, frame):  # Ctrl-C or SIGTERM: stop after this step and keep the weights so far
        if asked:
            raise KeyboardInterrupt
        asked.append(True)

    main = threading.current_thread() is threading.main_thread()
    old = [(s, signal.signal(s, on_stop)) for s in (signal.SIGINT, signal.SIGTERM)] if main else []
    t_train = time.time()
    try:
        for k in range(steps):
            if asked:
                break
            opt.learning_rate.assign(lr * min(1.0, (k + 1) / min(WARM, steps)) * (0.02 + 0.49 * (1 + math.cos(math.pi * k / steps))))
            full = k % FULL_EVERY == 0
            n = batch if full else max(batch, batch * CROP_BATCH // BATCH)
            if pos + n > len(order):
                order, pos = rng.permutation(len(X)), 0
            idx = np.sort(order[pos: pos + n])
            pos += n
            xb, yb = (X[idx], Y[idx]) if full else crop_batch(X, Y, idx, positives, rng)
            loss, p = step(tf.constant(xb.astype(np.float32)[..., None]), tf.constant(yb))
            hist.append([k + 1, float(loss)] + [float(p[n]) for n in ("heat", "link", "size", "off")])
            if (k + 1) % 100 == 0:
                h = np.mean(hist[-100:], 0)
                left = (time.time() - t_train) / (k + 1) * (steps - k - 1)
                _log(f"step {k + 1:,}/{steps:,}  loss {h[1]:.3f} (heat {h[2]:.3f} link {h[3]:.3f} size {h[4]:.3f} "
                     f"offset {h[5]:.3f})  {left / 60:.1f} min left", cfg)
    finally:
        for s, h in old:
            signal.signal(s, h)
    if asked:
        _log(f"interrupted after {len(hist)} steps: keeping the weights so far", cfg)
    if not hist:
        raise EdgeDigitsError("interrupted before the first step: nothing to save")
    train_s = time.time() - t_train
    scores = keras_dev_scores(model, mnist, usps, DEV_PAGES, workers)
    _log(f"dev pages ({scores['pages']}, {scores['digits']:,} digits): recall {scores['recall']:.2%}, precision "
         f"{scores['precision']:.2%}, numbers linked {scores['numbers_linked']:.2%}", cfg)
    metrics = {"arch": "detector", **stats, "init": str(cfg.init) if cfg.init else None,
               "init_sha256": files.sha256_file(cfg.init) if cfg.init else None, "focus": cfg.focus, "pages": n_pages, "samples": int(len(X)), "steps": len(hist),
               "steps_planned": steps, "batch_size": batch, "lr": lr, "seed": cfg.seed, "interrupted": bool(asked),
               "generate_seconds": round(gen_s, 1), "train_seconds": round(train_s, 1), "dev": scores,
               "data": {"mnist": mnist.source, "mnist_sha256": mnist.sha256,
                        "usps": usps.source if usps else None, "usps_sha256": usps.sha256 if usps else None},
               "final_loss": [round(v, 4) for v in np.mean(hist[-100:], 0)[1:].tolist()],
               "versions": provenance.library_versions(), "git_commit": commit}
    with files.atomic_dir(cfg.out, force=cfg.force) as tmp:
        clean = build_detector((IN_H, IN_W, 1))  # no optimizer state in the file
        clean.set_weights(model.get_weights())
        clean.save(tmp / "model.keras")
        files.write_json(tmp / "metrics.json", metrics)
        rows = ["step,loss,heat,link,size,offset"] + [",".join(f"{v:.5g}" for v in r) for r in hist]
        files.write_text(tmp / "history.csv", "\n".join(rows) + "\n")
        _plot(np.array(hist), tmp / "curves.png")
    return RunResult(Path(cfg.out), metrics)


def _init_weights(path, model) -> list:
    """The weights of a saved detector for `model` (fine-tuning); a file that is no such detector: one-line error."""
    import keras

    from edge_digits.training import detector_model  # noqa: F401 - registers UpTo for loading

    try:
        weights = keras.models.load_model(path, compile=False).get_weights()
    except Exception as e:  # Keras raises many kinds for a file that is not a model
        raise EdgeDigitsError(f"{path}: not a Keras model file ({type(e).__name__}: {str(e)[:80]})") from None
    if [w.shape for w in weights] != [w.shape for w in model.get_weights()]:
        raise EdgeDigitsError(f"{path}: not a detector of this architecture (its weights have other shapes)")
    return weights


def _plot(h: np.ndarray, path: Path) -> None:
    plt = provenance.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    k = max(1, len(h) // 200)
    for j, name in enumerate(("loss", "heat", "link", "size", "offset"), 1):
        v = np.convolve(h[:, j], np.ones(k) / k, mode="valid")
        ax.plot(h[k - 1:, 0], v, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title("detector training loss (running mean)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
