"""Average a fine-tuned detector's weights with the weights it started from, into a run folder for export.

    .venv/bin/python scripts/blend_detector.py runs/det-pencil --data mnist.npz --usps usps.npz --out runs/det-blend
    EDGE_DIGITS_USPS=usps.npz edge-digits export runs/det-blend --int8 --data mnist.npz --out export/detector

Why: a fine-tune toward one condition (`train --arch detector --focus pen=pencil:0.33`) read better on the
page generator's dev pages but lost tiny digits on the other generator's (data.synth); the average of
the two nets kept both (WiSE-FT, Wortsman et al. 2022: interpolating a fine-tune with its start keeps
what each knows; export/detector/README.md has the figures). The start is the run's own --init (from
its metrics.json; refused if that file changed since) unless --init is given. The blend is scored on the same dev pages as train scores a
run, and its metrics.json is the run's with those scores and a "blend" record. Averaging two weight
lists is one line of numpy: no library needed.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge_digits.config import EdgeDigitsError  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="the fine-tune's run folder (model.keras, metrics.json)")
    ap.add_argument("--init", type=Path, help="the weights it started from (default: the run's --init)")
    ap.add_argument("--weight", type=float, default=0.5, help="the fine-tune's share of each weight (0..1)")
    ap.add_argument("--data", help="MNIST .npz (default: $EDGE_DIGITS_DATA or Keras' cache)")
    ap.add_argument("--usps", help="USPS .npz (default: $EDGE_DIGITS_USPS; without it, MNIST digits only)")
    ap.add_argument("--dev-pages", type=int, default=300, help="dev pages to score the blend on")
    ap.add_argument("--out", type=Path, required=True, help="run folder to create")
    ap.add_argument("--force", action="store_true", help="replace an existing --out")
    a = ap.parse_args()
    if not 0 <= a.weight <= 1:
        raise EdgeDigitsError(f"--weight must be in 0..1, got {a.weight}")
    if not 1 <= a.dev_pages <= 10_000:
        raise EdgeDigitsError(f"--dev-pages must be in 1..10000, got {a.dev_pages}")
    try:
        metrics = json.loads((a.run / "metrics.json").read_text())
        init = a.init or (Path(metrics["init"]) if metrics.get("init") else None)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EdgeDigitsError(f"{a.run}: not a detector run folder ({type(e).__name__}: {str(e)[:80]})") from None
    if init is None:
        raise EdgeDigitsError(f"{a.run}: trained from scratch (no --init): give --init, the weights to blend with")
    from edge_digits.core import files, provenance

    if a.init is None and metrics.get("init_sha256") and (not init.is_file() or files.sha256_file(init) != metrics["init_sha256"]):
        raise EdgeDigitsError(f"{init}: not the file {a.run} started from (changed since: a blend shipped over it?); "
                              "give --init, the weights it started from")
    if a.out.exists() and not a.force:
        raise EdgeDigitsError(f"{a.out}: exists (use --force to replace)")

    from edge_digits.core.quiet import import_tensorflow
    from edge_digits.data.mnist import load_mnist
    from edge_digits.data.usps import load_usps, usps_path

    mnist = load_mnist(a.data)
    usps = load_usps(a.usps) if usps_path(a.usps) else None
    import_tensorflow()
    from edge_digits.training import detector as det
    from edge_digits.training.detector_model import build_detector
    from edge_digits.vision.detector import IN_H, IN_W

    model = build_detector((IN_H, IN_W, 1))
    tuned, start = det._init_weights(a.run / "model.keras", model), det._init_weights(init, model)
    model.set_weights([a.weight * t + (1 - a.weight) * s for t, s in zip(tuned, start)])
    scores = det.keras_dev_scores(model, mnist, usps, a.dev_pages)
    metrics["blend"] = {"fine_tuned": str(a.run), "init": str(init), "weight": a.weight,
                        "fine_tuned_dev": metrics.get("dev"), "git_commit": provenance.git_commit()}
    metrics["dev"] = scores
    with files.atomic_dir(a.out, force=a.force) as tmp:
        model.save(tmp / "model.keras")
        files.write_json(tmp / "metrics.json", metrics)
        for name in ("history.csv", "curves.png"):  # the fine-tune's record travels with the blend
            if (a.run / name).is_file():
                shutil.copy2(a.run / name, tmp / name)
    print(f"{a.out}: {a.weight:g} x {a.run} + {1 - a.weight:g} x {init}; {scores['pages']} dev pages: recall "
          f"{scores['recall']:.2%}, precision {scores['precision']:.2%}, numbers linked {scores['numbers_linked']:.2%}")


if __name__ == "__main__":
    try:
        main()
    except EdgeDigitsError as e:
        sys.exit(f"error: {e}")
    except KeyboardInterrupt:
        sys.exit("interrupted: nothing written")
