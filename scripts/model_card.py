"""Write the model card (README.md) of an export folder from its manifest.json: every figure comes from it.

    python scripts/model_card.py export
    python scripts/model_card.py export/camera
"""
from pathlib import Path

from edge_digits.runtime.manifest import read_manifest


CAM = (", on MNIST{} plus {:,} digits as the camera pipeline cuts them out of photo-like pages of those "
       "training digits (`edge_digits/camera_data.py`)")
USPS = (". The USPS test digits ({:.2%} read right) were never trained on")
NOT = (", and {:,} candidates from those pages that are no whole digit (pieces, neighbours taken together, specks), "
       "trained to give no opinion (a uniform output)")


def cam_text(tr: dict) -> str:
    n_not = tr.get("camera_not_digits", 0)
    usps = f" and the {tr['usps_train_digits']:,} USPS training digits," if tr.get("usps_train_digits") else ""
    return (CAM.format(usps, tr["camera_crops"] - n_not) + (NOT.format(n_not) if n_not else "")
            + (USPS.format(tr["usps_test_accuracy"]) if "usps_test_accuracy" in tr else ""))


def main(folder):
    folder = Path(folder)
    m = read_manifest(folder)
    arts = m["artifacts"]
    src = arts[0]["source"]
    cam = bool(src.get("training", {}).get("camera_crops"))
    tr = src.get("training", {})
    ev = arts[0]["eval_set"]
    lines = [
        f"# edge-digits {'camera' if cam else 'default'} models: `{src['arch']}`",
        "",
        f"A {src['parameters']:,}-parameter CNN, {src['flops_per_digit'] / 1e6:.2f} MFLOPs per digit, trained "
        f"{tr.get('epochs_run', '?')} epochs ({tr.get('train_seconds', 0) / 60:.1f} min on 2 CPU cores, seed "
        f"{tr.get('seed', '?')}) with augmentation{cam_text(tr) if cam else ''}. Made by `make models` (git {str(src.get('git_commit'))[:10]}, "
        f"{src.get('created', '')}); `manifest.json` holds every detail, including input/output quantization.",
        "",
        f"Accuracy on the {ev['kind']} MNIST test set ({ev['n']:,} images), measured through each file's own runtime:",
        "",
        "| file | format | precision | size | accuracy | top-1 agreement with Keras | max prob. diff | runtime |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in arts:
        lines.append(f"| `{a['file']}` | {a['format']} | {a['precision']} | {a['size_bytes'] / 1024:.1f} KiB | "
                     f"{a['accuracy'] * 100:.2f}% | {a['agreement_with_keras'] * 100:.2f}% | {a['max_prob_diff']:.4f} | "
                     f"{a.get('runtime', '')} |")
    lines += [
        "",
        "Input: 28x28 uint8 digits, ink high (white on black), MNIST-centred; the runtimes in",
        "`edge_digits/runtimes.py` scale and quantize from the manifest, so `runner.predict(uint8 batch)` is all",
        "a caller needs. " + ("`edge-digits camera` and `predict` default to `edge-cam_int8.tflite`." if cam else
                              "`bench`, `evaluate` and the Python API default to `edge_int8.tflite`."),
        "",
    ]
    (folder / "README.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    from data_args import run_on_export_folder

    run_on_export_folder(main, __doc__)
