"""What train and export print when they finish: Rich tables on stderr (stdout stays for --json)."""
from __future__ import annotations

from edge_digits.config import Arch


def train(arch: Arch, results) -> None:
    from rich.console import Console
    from rich.table import Table

    if arch == Arch.detector:
        m, dev = results[0].metrics, results[0].metrics["dev"]
        Console(stderr=True).print(
            f"{results[0].out}: detector, {m['params']:,} parameters, {m['steps']:,} steps in {m['train_seconds']:.0f} s; "
            f"dev pages: recall {dev['recall']:.2%}, precision {dev['precision']:.2%}, "
            f"numbers linked {dev['numbers_linked']:.2%}")
        return
    t = Table(title=f"edge-digits train: {arch.value}")
    for col in ("run", "optimizer", "test acc", "loss", "params", "MFLOPs", "epochs", "s"):
        t.add_column(col, no_wrap=col != "run")
    for r in results:
        m = r.metrics
        t.add_row(str(r.out), m["optimizer"], f"{m['accuracy'] * 100:.2f}%", f"{m['loss']:.4f}",
                  f"{m['parameters']:,}", f"{m['flops_per_digit'] / 1e6:.2f}", str(m["epochs_run"]),
                  f"{m['train_seconds']:.0f}")
    t.caption = f"test set: {results[0].metrics['data']['eval_set']} ({results[0].metrics['n']:,} images)"
    Console(stderr=True).print(t)


def export(cfg, entries: list[dict], manifest) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(stderr=True)
    if entries[0].get("kind") == "detector":
        for e in entries:
            d = e.get("dev") or e["keras_dev"]
            con.print(f"{e['file']}: {e['size_bytes'] / 1024:.1f} KiB, dev pages recall {d['recall']:.2%}, "
                      f"precision {d['precision']:.2%}, numbers linked {d['numbers_linked']:.2%}")
        con.print(f"manifest: {manifest}")
        return
    t = Table(title=f"edge-digits export -> {cfg.out}")
    for col in ("file", "KiB", "accuracy", "agree", "max|dp|", "s"):
        t.add_column(col, no_wrap=True)
    for e in entries:
        t.add_row(e["file"], f"{e['size_bytes'] / 1024:.1f}", f"{e['accuracy'] * 100:.2f}%",
                  f"{e['agreement_with_keras'] * 100:.2f}%", f"{e['max_prob_diff']:.4f}", f"{e['convert_seconds']:.1f}")
    t.caption = f"accuracy on the {entries[0]['eval_set']['kind']} MNIST test set ({entries[0]['eval_set']['n']} images)"
    con.print(t)
    best = next((e["file"] for e in entries if e["precision"] == "int8" and e["format"] == "tflite"), entries[-1]["file"])
    con.print(f"manifest: {manifest}\nnext:\n  edge-digits camera --model {cfg.out / best}\n"
              f"  edge-digits predict --model {cfg.out / best} IMAGE\n  edge-digits bench --manifest {manifest}")


# ---- camera and predict (issue 4) ----
