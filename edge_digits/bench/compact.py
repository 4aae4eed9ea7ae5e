"""What the 100-column bench table leaves to lines of its own: GPU rows that cannot run here (one footer
line), and the provider shown with the runtime."""
from __future__ import annotations

GPU_PROVIDERS = ("GPU", "CUDA", "TensorRT", "Tensorrt")


def gpu_unavailable(r: dict) -> bool:
    """A GPU row that could not run here: the footer names it instead of a table row."""
    return r.get("provider") in GPU_PROVIDERS and str(r.get("status", "")).startswith("skipped")


def gpu_footer(doc: dict) -> str | None:
    names = []
    for r in doc["rows"]:
        if gpu_unavailable(r):
            name = {"keras": "TF GPU", "litert": "LiteRT GPU"}.get(r["runtime"], r["provider"])
            name = "TensorRT" if name == "Tensorrt" else name
            if name not in names:
                names.append(name)
    if not names:
        return None
    return (f"{', '.join(names)}: not present; install edge-digits[gpu] (ONNX Runtime CUDA/TensorRT) or "
            "tensorflow[and-cuda] on an NVIDIA machine (the LiteRT GPU delegate is not in desktop Python)")


def runtime_cell(r: dict) -> str:
    p = r.get("provider") or ""
    return r["runtime"] + ("" if p in ("", "CPU", "-") else f"/{p}")
