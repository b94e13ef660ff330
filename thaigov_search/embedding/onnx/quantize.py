"""Dynamic int8 quantisation of an exported float32 ONNX file."""

from __future__ import annotations

import logging
from pathlib import Path


def quantize(src: Path, dst: Path) -> None:
    """Dynamic int8 quantisation: signed int8 weights per output channel, uint8 activations per batch.

    Per-channel weights cost nothing in speed here and lift the cosine agreement with float32 from
    about 0.983 to 0.996 (mean over real passages; see docs/performance.md).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    previous = logging.root.manager.disable
    logging.disable(logging.INFO)  # the quantiser logs every tensor at INFO on the root logger
    try:
        quantize_dynamic(
            str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True, reduce_range=False,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # for outputs shape inference cannot type
        )
    finally:
        logging.disable(previous)


