"""Train the box-fit net (edge_digits.boxfit) and ship it as export/boxfit/box-fit_int8.tflite.

    .venv/bin/python scripts/train_boxfit.py --data ../shared/data/mnist.npz

Data: photo-like pages (edge_digits.synth) of MNIST *training* digits, page seeds 600 and 601 (the tests use
seeds below 100, the development pages 1000-3000, the benchmark 90210). Every candidate the detector offers
on them, pieces of merged groups included, that overlaps a true digit at IoU >= 0.2 gives one window and the
true box as the target (edge_digits.camera_data.box_windows). A tenth is held out; the int8 file must give
the same boxes as the Keras net there (mean IoU >= 0.95 between the two) or nothing is written.
Takes about 8 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge_digits.runtime import manifest as artifacts  # noqa: E402
from edge_digits.config import EdgeDigitsError  # noqa: E402


def _windows(args):
    data, pages, seed = args
    from edge_digits.training.camera_data import box_windows
    from edge_digits.data.mnist import load_mnist

    d = load_mnist(data)
    return box_windows(d.x_train, d.y_train, pages, seed)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of (x0, y0, x1, y1) rows."""
    ix = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = ix * iy
    area = lambda r: np.clip(r[:, 2] - r[:, 0], 0, None) * np.clip(r[:, 3] - r[:, 1], 0, None)  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="MNIST .npz (default: $EDGE_DIGITS_DATA or Keras' cache)")
    ap.add_argument("--pages", type=int, default=16000)
    ap.add_argument("--seed", type=int, default=600)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--out", type=Path, required=True, help="output folder (make models passes export/boxfit)")
    ap.add_argument("--windows", type=Path, help="keep the windows in this .npz and reuse them when it exists")
    a = ap.parse_args()
    t0 = time.time()
    if a.windows and a.windows.is_file():
        w = np.load(a.windows)
        x, t, v = w["x"], w["t"], w["iou"]
    else:
        with Pool(2) as pool:  # page making and detection are single-threaded: one page seed per core
            parts = pool.map(_windows, [(a.data, a.pages // 2, a.seed), (a.data, a.pages - a.pages // 2, a.seed + 1)])
        x, t, v = (np.concatenate([p[k] for p in parts]) for k in range(3))
        if a.windows:
            np.savez(a.windows, x=x, t=t, iou=v)
    print(f"{len(x)} windows from {a.pages} pages in {time.time() - t0:.0f} s", flush=True)

    import keras

    from edge_digits.exporters.export import Source, write_tflite_int8
    from edge_digits.training.models import box_fit
    from edge_digits.runtime import LiteRTRunner

    keras.utils.set_random_seed(a.seed)
    order = np.random.default_rng(a.seed).permutation(len(x))
    x, t, v = x[order], t[order], v[order]
    n_val = len(x) // 10
    xf = x.astype(np.float32)[..., None] / 255.0
    model = box_fit(a.width)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=keras.losses.Huber(delta=0.05))
    model.fit(xf[n_val:], t[n_val:], validation_data=(xf[:n_val], t[:n_val]), epochs=a.epochs, batch_size=128,
              verbose=2, callbacks=[keras.callbacks.ReduceLROnPlateau(patience=2, factor=0.5)])
    pred = model.predict(xf[:n_val], verbose=0)
    got = box_iou(pred, t[:n_val])
    report = {}
    for lo, hi in ((0.2, 0.5), (0.5, 0.75), (0.75, 1.01)):
        s = (v[:n_val] >= lo) & (v[:n_val] < hi)
        report[f"candidate IoU {lo}-{min(hi, 1.0)}"] = {
            "windows": int(s.sum()), "candidate_mean_iou": round(float(v[:n_val][s].mean()), 3),
            "net_mean_iou": round(float(got[s].mean()), 3), "net_iou_at_least_0.5": round(float((got[s] >= 0.5).mean()), 3)}
    print(json.dumps(report, indent=1), flush=True)

    a.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=a.out, prefix=".train"))
    try:
        kpath, tpath = tmp / "box-fit.keras", tmp / "box-fit_int8.tflite"
        model.save(kpath)
        calib = x[n_val: n_val + 500]
        write_tflite_int8(Source(model, kpath, "box_fit", {}), tpath, calib)
        q = LiteRTRunner(tpath, threads=1).predict(x[:n_val])
        agree = float(box_iou(q, pred).mean())
        print(f"int8 vs Keras on {n_val} held-out windows: mean IoU {agree:.3f}", flush=True)
        if agree < 0.95:
            raise EdgeDigitsError(f"int8 box-fit net strays from the Keras net (mean IoU {agree:.3f} < 0.95)")
        entries = []
        for path, fmt, prec in ((kpath, "keras", "fp32"), (tpath, "tflite", "int8")):
            entries.append({"file": path.name, "format": fmt, "precision": prec, "size_bytes": path.stat().st_size,
                            "sha256": artifacts.sha256_file(path), "kind": "box-fit (edge_digits.boxfit), not a classifier",
                            "input": "28x28 uint8 window, edge_digits.boxfit.window", "output": "x0, y0, x1, y1 in window units"})
        entries[1]["int8_vs_keras_mean_iou"] = round(agree, 4)
        for path in (kpath, tpath):
            os.chmod(path, 0o644)
            os.replace(path, a.out / path.name)
        artifacts.write_manifest(a.out, entries, {
            "made_by": f"scripts/train_boxfit.py --pages {a.pages} --seed {a.seed} --width {a.width} --epochs {a.epochs}",
            "windows": {"train": int(len(x) - n_val), "held_out": int(n_val)}, "held_out": report})
    finally:
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    print(f"wrote {a.out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except EdgeDigitsError as e:
        sys.exit(f"error: {e}")
