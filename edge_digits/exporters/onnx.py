"""ONNX: float32 through tf2onnx, int8 through onnxruntime.quantization (QDQ), our metadata in metadata_props."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edge_digits.exporters.base import METADATA_KEYS, Source, _float01, _serving_fn

OPSET = 17


def write_onnx_fp32(src: Source, dst: Path, calib: np.ndarray) -> None:
    import tf2onnx

    fn = _serving_fn(src.model)
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=OPSET)
    dst.write_bytes(proto.SerializeToString())


def write_onnx_int8(src: Source, dst: Path, calib: np.ndarray) -> None:
    """QDQ static quantization, per-channel int8 weights, with ONNX Runtime's own tools."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    tmp = dst.parent
    fp32, pre = tmp / ".int8_src.onnx", tmp / ".int8_pre.onnx"
    write_onnx_fp32(src, fp32, calib)
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    import onnxruntime as ort

    name = ort.InferenceSession(str(pre), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(_float01(calib[i:i + 1]) for i in range(len(calib)))

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {name: x}

    # U8S8 (uint8 activations, int8 weights) is ONNX Runtime's recommended and fastest CPU combination.
    quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    fp32.unlink(missing_ok=True)
    pre.unlink(missing_ok=True)

def _embed_onnx_metadata(path: Path, entry: dict) -> None:
    import onnx

    m = onnx.load(str(path))
    del m.metadata_props[:]
    for k in (*METADATA_KEYS, "input"):
        p = m.metadata_props.add()
        p.key, p.value = f"edge_digits.{k}", json.dumps(entry[k])
    onnx.save(m, str(path))
