"""ONNX Runtime execution providers: which to use, best first, and how users name them."""
from __future__ import annotations

from edge_digits.config import EdgeDigitsError

# Best first: what `auto` picks when the installed onnxruntime offers it.
ORT_PREFERRED = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "OpenVINOExecutionProvider",
                 "CoreMLExecutionProvider", "DmlExecutionProvider", "CPUExecutionProvider"]
ORT_SHORT = {p.removesuffix("ExecutionProvider").lower(): p for p in ORT_PREFERRED}
ORT_SHORT.update({"trt": "TensorrtExecutionProvider", "dml": "DmlExecutionProvider"})


def parse_providers(requested: str | list[str], available: list[str] = ()) -> list[str]:
    """Short (`cpu`, `cuda`, `tensorrt`/`trt`) or full ONNX Runtime names, comma-separated or listed ->
    full names, in order. A name is unknown when it is neither one we know nor one this build offers."""
    names = [requested] if isinstance(requested, str) else list(requested)
    out = []
    for n in (s.strip() for part in names for s in part.split(",") if s.strip()):
        full = ORT_SHORT.get(n.lower(), n)
        if full not in ORT_PREFERRED and full not in available:
            raise EdgeDigitsError(f"unknown provider '{n}' (known: {', '.join(sorted(ORT_SHORT))})")
        out.append(full)
    if not out:
        raise EdgeDigitsError("empty provider list")
    return out


def select_providers(requested: str | list[str] | None, available: list[str]) -> tuple[list[str], str]:
    """Choose ONNX Runtime execution providers. `auto` takes every accelerator that is installed, best first,
    and says which it fell back from; explicit names (short `cuda` or full) must all be available."""
    if requested in (None, "auto", ["auto"]):
        chosen = [p for p in ORT_PREFERRED if p in available] or ["CPUExecutionProvider"]
        missing = [p.removesuffix("ExecutionProvider") for p in ORT_PREFERRED[:2] if p not in available]
        note = f"using {chosen[0].removesuffix('ExecutionProvider')}"
        if missing and chosen[0] == "CPUExecutionProvider":
            note += f" (fell back from {', '.join(missing)}: not available; install edge-digits[gpu])"
        return chosen, note
    chosen = parse_providers(requested, available)
    for full in chosen:
        if full not in available:
            raise EdgeDigitsError(f"provider '{full.removesuffix('ExecutionProvider').lower()}' is not available here "
                                  f"(available: {', '.join(a.removesuffix('ExecutionProvider') for a in available)})")
    return chosen, f"using {chosen[0].removesuffix('ExecutionProvider')}"
