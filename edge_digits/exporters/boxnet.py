"""Ship a trained box net (training.boxnet) as int8 TFLite with its manifest: the int8 file must give the
Keras net's boxes on the held-out windows (mean IoU >= 0.95 between the two) or nothing is written. Files
go to a temporary folder in `out` and are renamed into place when all is done.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from edge_digits.config import EdgeDigitsError
from edge_digits.runtime import manifest as artifacts
from edge_digits.training.boxnet import box_iou

MIN_AGREEMENT = 0.95


def ship_box_net(model, held_out: np.ndarray, keras_boxes: np.ndarray, calib: np.ndarray, out: Path, name: str,
                 kind: str, input_desc: str, manifest_extra: dict) -> float:
    """-> out/<name>.keras, out/<name>_int8.tflite, out/manifest.json; returns the int8-vs-Keras mean IoU."""
    from edge_digits.exporters.export import Source, write_tflite_int8
    from edge_digits.runtime import LiteRTRunner

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".ship-") as tmp_name:  # gone afterwards, error or not
        tmp = Path(tmp_name)
        kpath, tpath = tmp / f"{name}.keras", tmp / f"{name}_int8.tflite"
        model.save(kpath)
        write_tflite_int8(Source(model, kpath, name, {}), tpath, calib)
        q = LiteRTRunner(tpath, threads=1, outputs=4).predict(held_out)
        agree = float(box_iou(q, keras_boxes).mean())
        print(f"int8 vs Keras on {len(held_out)} held-out windows: mean IoU {agree:.3f}", flush=True)
        if agree < MIN_AGREEMENT:
            raise EdgeDigitsError(f"int8 {name} net strays from the Keras net (mean IoU {agree:.3f} < {MIN_AGREEMENT})")
        entries = []
        for path, fmt, prec in ((kpath, "keras", "fp32"), (tpath, "tflite", "int8")):
            entries.append({"file": path.name, "format": fmt, "precision": prec, "size_bytes": path.stat().st_size,
                            "sha256": artifacts.sha256_file(path), "kind": kind, "input": input_desc,
                            "output": "x0, y0, x1, y1 in window units"})
        entries[1]["int8_vs_keras_mean_iou"] = round(agree, 4)
        for path in (kpath, tpath):
            os.chmod(path, 0o644)
            os.replace(path, out / path.name)
        artifacts.write_manifest(out, entries, manifest_extra)
    return agree


def fit_and_ship(x, t, cand_iou, args, name: str, kind: str, input_desc: str, script: str, bands=None,
                 windows_extra: dict | None = None) -> None:
    """A box-net script's whole job after its windows: train (training.boxnet.fit_box_net) with the
    script's --seed --width --epochs, then ship_box_net into --out with the run recorded in the manifest."""
    from edge_digits.training.boxnet import BANDS, fit_box_net

    model, report, held, pred, calib = fit_box_net(x, t, cand_iou, seed=args.seed, width=args.width,
                                                   epochs=args.epochs, bands=bands or BANDS)
    ship_box_net(model, held, pred, calib, args.out, name, kind, input_desc, {
        "made_by": f"{script} --pages {args.pages} --seed {args.seed} --width {args.width} --epochs {args.epochs}",
        "windows": {"train": int(len(x) - len(held)), "held_out": int(len(held)), **(windows_extra or {})},
        "held_out": report})
