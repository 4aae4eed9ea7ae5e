"""Train a box net (training.models.box_fit: a 28x28 window -> a digit's box (x0, y0, x1, y1) in window
units); exporters.boxnet ships it. Two nets use it: the rules path's box fit (scripts/train_boxfit.py,
vision.rules.boxfit) and the learned detector's box refiner (scripts/train_refine.py, vision.refine); each
makes its own windows. A tenth of the windows is held out: the report gives the net's IoU with the true
box against the candidate's own, per band of candidate IoU.
"""
from __future__ import annotations

import json

import numpy as np

BANDS = ((0.2, 0.5), (0.5, 0.75), (0.75, 1.01))


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of (x0, y0, x1, y1) rows."""
    ix = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = ix * iy
    area = lambda r: np.clip(r[:, 2] - r[:, 0], 0, None) * np.clip(r[:, 3] - r[:, 1], 0, None)  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def held_out_report(pred: np.ndarray, t: np.ndarray, cand_iou: np.ndarray, bands=BANDS) -> dict:
    """Per band of candidate IoU: windows, the candidates' mean IoU, the net's, and its share >= 0.5."""
    got = box_iou(pred, t)
    report = {}
    for lo, hi in bands:
        s = (cand_iou >= lo) & (cand_iou < hi)
        if s.any():
            report[f"candidate IoU {lo}-{min(hi, 1.0)}"] = {
                "windows": int(s.sum()), "candidate_mean_iou": round(float(cand_iou[s].mean()), 3),
                "net_mean_iou": round(float(got[s].mean()), 3),
                "net_iou_at_least_0.5": round(float((got[s] >= 0.5).mean()), 3)}
    return report


def fit_box_net(x: np.ndarray, t: np.ndarray, cand_iou: np.ndarray, seed: int = 0, width: int = 16,
                epochs: int = 20, bands=BANDS):
    """x (N, 28, 28) uint8 windows, t (N, 4) true boxes in window units, cand_iou (N,) the candidates' own
    IoU -> (Keras model, held-out report, held-out windows, the model's boxes for them, calibration windows).
    Hand the model to exporters.boxnet.ship_box_net."""
    import keras

    from edge_digits.training.models import box_fit

    keras.utils.set_random_seed(seed)
    order = np.random.default_rng(seed).permutation(len(x))
    x, t, cand_iou = x[order], t[order], cand_iou[order]
    n_val = len(x) // 10
    xf = x.astype(np.float32)[..., None] / 255.0
    model = box_fit(width)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=keras.losses.Huber(delta=0.05))
    model.fit(xf[n_val:], t[n_val:], validation_data=(xf[:n_val], t[:n_val]), epochs=epochs, batch_size=128,
              verbose=2, callbacks=[keras.callbacks.ReduceLROnPlateau(patience=2, factor=0.5)])
    pred = model.predict(xf[:n_val], verbose=0)
    report = held_out_report(pred, t[:n_val], cand_iou[:n_val], bands)
    print(json.dumps(report, indent=1), flush=True)
    return model, report, x[:n_val], pred, x[n_val: n_val + 500]


def script_args(description: str, pages: int, seed: int, epochs: int, out_help: str):
    """The command line both box-net scripts share (scripts/train_boxfit.py, scripts/train_refine.py)."""
    import argparse
    from pathlib import Path

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--data", help="MNIST .npz (default: $EDGE_DIGITS_DATA or Keras' cache)")
    ap.add_argument("--pages", type=int, default=pages)
    ap.add_argument("--seed", type=int, default=seed)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--out", type=Path, required=True, help=out_help)
    ap.add_argument("--windows", type=Path, help="keep the windows in this .npz and reuse them when it exists")
    return ap


def cached_windows(path, make, keys: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """The arrays `make()` returns, kept in the .npz `path` under `keys` and read from it when it exists."""
    if path and path.is_file():
        w = np.load(path)
        return tuple(w[k] for k in keys)
    arrays = make()
    if path:
        np.savez(path, **dict(zip(keys, arrays)))
    return arrays
