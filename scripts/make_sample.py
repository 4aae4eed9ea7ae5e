"""Make tests/data/mnist_sample.npz: a small deterministic, class-balanced MNIST sample (Keras' layout).

    python scripts/make_sample.py ../shared/data/mnist.npz

Train rows come from MNIST's training split and test rows from its test split, so accuracy on the sample
test rows is a fair (if noisy) estimate. Rerunning with the same file reproduces the same bytes.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

TRAIN_PER_CLASS, TEST_PER_CLASS, SEED = 300, 200, 20261122
OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "mnist_sample.npz"


def pick(y, per_class, rng):
    idx = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(10)])
    return np.sort(idx)


def main(src):
    with np.load(src, allow_pickle=False) as z:
        a = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    rng = np.random.default_rng(SEED)
    tr, te = pick(a["y_train"], TRAIN_PER_CLASS, rng), pick(a["y_test"], TEST_PER_CLASS, rng)
    out = {"x_train": a["x_train"][tr], "y_train": a["y_train"][tr],
           "x_test": a["x_test"][te], "y_test": a["y_test"][te]}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **out)
    tmp.replace(OUT)
    print(f"{OUT}: {OUT.stat().st_size} bytes, {len(tr)} train / {len(te)} test")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", nargs="?", default="../shared/data/mnist.npz", help="Keras' mnist.npz")
    src = ap.parse_args().src
    try:
        main(src)
    except (OSError, ValueError, KeyError) as e:  # a missing, unreadable or foreign file: one line, no traceback
        sys.exit(f"error: {src}: not a readable MNIST .npz ({type(e).__name__}: {e})")
