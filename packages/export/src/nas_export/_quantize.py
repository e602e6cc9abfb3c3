"""Static int8 quantization of an exported model (onnxruntime.quantization, QDQ format).

Steps: ``quant_pre_process`` (shape inference, graph optimisation such as batch-norm folding),
then ``quantize_static`` with per-channel int8 weights and uint8 activations whose ranges are
calibrated (min-max) on training images.

Weights use 7 bits (``reduce_range``: -64..64), as onnxruntime advises for CPUs without VNNI.
Its CPU provider fuses the Q/DQ pairs into uint8 x int8 kernels (``QLinearConv``, ``QGemm``);
on x86 without VNNI (AVX2 only) these add pairs of products in int16 (``VPMADDUBSW``), which
saturates once ``2 * 255 * |w|`` passes 32767. With full 8-bit weights, five tiny synthetic
models ran on such a CPU at 93.8-100% top-1 agreement with fp32 (max logit difference 0.85-1.84)
although their Q/DQ graphs, computed exactly as a VNNI CPU does, agree at 99.0-100% (0.08-0.28).
With 7-bit weights no pair can saturate (2 * 255 * 64 = 32640), and the fused kernels give exactly
the figures of the graph, 98.6-100% (0.11-0.28); the lost bit costs at most 0.4 points.

Only the weighted ops are quantized (``Conv``, ``Gemm``, ``MatMul``; their inputs get
QuantizeLinear/DequantizeLinear pairs): quantizing the adds, pools and concatenations of the
cells too gained no speed on onnxruntime's CPU kernels, nor accuracy (agreement within 0.4 points
of weighted-only on the same five models). The input normalisation (``Cast``, ``Mul``, ``Sub``
before the first convolution) is excluded explicitly: its input is already uint8, and the first
convolution's input is quantized anyway. Batch norms left after the optimisation (those after a
concatenation, which cannot be folded) stay float.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import onnx
import torch
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quant_pre_process, quantize_static

from ._graph import save_checked, set_metadata
from ._metadata import INPUT_NAME, ModelInfo

OP_TYPES = ("Conv", "Gemm", "MatMul")


class TensorReader(CalibrationDataReader):
    """Calibration batches of uint8 images for onnxruntime.

    onnxruntime's calibrator needs arrays: ``torch.Tensor.numpy()`` gives a view of the tensor's
    buffer (our code imports no NumPy)."""

    def __init__(self, images: torch.Tensor, batch_size: int = 32):
        self.batches = [b.contiguous() for b in images.split(batch_size)]
        self.rewind()

    def get_next(self) -> dict | None:
        batch = next(self._iter, None)
        return None if batch is None else {INPUT_NAME: batch.numpy()}

    def rewind(self) -> None:
        self._iter = iter(self.batches)


def quantize_int8(fp32_path: Path, out_path: Path, calibration: torch.Tensor, info: ModelInfo) -> None:
    """Write the int8 QDQ model of ``fp32_path`` to ``out_path`` (checked, metadata ``info`` with
    ``quantization="int8"``), calibrated on uint8 images ``calibration`` (N, C, H, W)."""
    with tempfile.TemporaryDirectory() as tmp, _quiet_quantizer():
        pre, quantized = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        quant_pre_process(str(fp32_path), str(pre))
        quantize_static(str(pre), str(quantized), TensorReader(calibration), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        reduce_range=True,  # 7-bit weights: no int16 saturation on CPUs without VNNI
                        op_types_to_quantize=list(OP_TYPES), nodes_to_exclude=input_nodes(onnx.load(pre)))
        proto = onnx.load(quantized)
    set_metadata(proto, _int8_info(info))
    save_checked(proto, out_path)


def input_nodes(proto: onnx.ModelProto) -> list[str]:
    """Names of the nodes between the graph input and the first convolution (normalisation)."""
    reached, names = {INPUT_NAME}, []
    for node in proto.graph.node:  # topologically sorted
        if node.op_type == "Conv" or not reached.intersection(node.input):
            continue
        names.append(node.name)
        reached.update(node.output)
    return names


def _int8_info(info: ModelInfo) -> ModelInfo:
    return ModelInfo(info.arch, info.network, info.classes, info.input_size, info.mean, info.std,
                     info.dataset, quantization="int8")


@contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """onnxruntime.quantization logs per-tensor warnings on the root logger; keep errors only."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
