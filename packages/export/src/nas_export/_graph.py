"""From a stand-alone network to one self-contained ONNX file (torch.onnx's dynamo exporter).

The graph takes images as data sets store them, uint8 ``(B, C, H, W)`` in 0-255, and does the
float conversion and the per-channel normalisation of training (``(x / 255 - mean) / std``,
as ``nas_core.data.DeviceLoader``) itself: callers need no preprocessing constants. The batch
dimension is dynamic (``batch``); height, width and channels are fixed.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import onnx
import torch
from torch import nn

from nas_core.orphans import remove_orphans

from ._errors import ExportError
from ._metadata import INPUT_NAME, MODEL_VERSION, OUTPUT_NAME, ModelInfo

DEFAULT_OPSET = 18
# The dynamo exporter writes opset 18 and converts the graph upwards only; the newest opset is the
# one torch.onnx declares (no public name for it) and the installed onnx package knows.
MIN_OPSET = 18
MAX_OPSET = min(getattr(getattr(torch.onnx, "_constants", None), "ONNX_MAX_OPSET", DEFAULT_OPSET),
                onnx.defs.onnx_opset_version())


class Uint8Classifier(nn.Module):
    """uint8 images (B, C, H, W) -> logits (B, num_classes): normalisation, then the network."""

    def __init__(self, net: nn.Module, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.net = net
        mean64 = torch.tensor(mean, dtype=torch.float64).view(1, -1, 1, 1)
        std64 = torch.tensor(std, dtype=torch.float64).clamp_min(1e-6).view(1, -1, 1, 1)
        self.register_buffer("scale", (1 / (255 * std64)).float())  # (1, C, 1, 1)
        self.register_buffer("shift", (mean64 / std64).float())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float() * self.scale - self.shift  # (B, C, H, W), (x / 255 - mean) / std
        return self.net(x)  # (B, num_classes)


def check_opset(opset: int) -> int:
    """``opset`` if torch.onnx can write it here (:data:`MIN_OPSET`..:data:`MAX_OPSET`), else an
    :class:`ExportError` (before anything is exported)."""
    if type(opset) is not int or not MIN_OPSET <= opset <= MAX_OPSET:
        raise ExportError(f"opset {opset} cannot be exported here: torch {torch.__version__} with onnx "
                          f"{onnx.__version__} writes opsets {MIN_OPSET} to {MAX_OPSET}",
                          hint=f"choose {{opset}} in {MIN_OPSET}..{MAX_OPSET}")
    return opset


def file_opset(proto: onnx.ModelProto) -> int:
    """The default-domain (``ai.onnx``) opset the file really declares."""
    return next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))


def to_onnx(net: nn.Module, info: ModelInfo, opset: int = DEFAULT_OPSET) -> onnx.ModelProto:
    """Export ``net`` (eval mode, CPU) wrapped in :class:`Uint8Classifier`, with ``info`` as
    metadata, in ``opset`` (checked: the exporter falls back to its own opset when it cannot
    convert, which must not pass for the one asked for). Nothing is written to disk."""
    check_opset(opset)
    model = Uint8Classifier(net, info.mean, info.std).cpu().eval()
    example = torch.randint(0, 256, (2, *info.input_shape), dtype=torch.uint8)  # batch 2: not specialised
    batch = torch.export.Dim("batch", min=1)
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(model, (example,), dynamo=True, opset_version=opset,
                                    input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                    dynamic_shapes={"images": {0: batch}}, verbose=False)
    proto = program.model_proto
    if file_opset(proto) != opset:
        raise ExportError(f"torch.onnx could not convert the graph to opset {opset} (it wrote "
                          f"{file_opset(proto)})", hint=f"choose another {{opset}}, e.g. {DEFAULT_OPSET}")
    _strip_debug_info(proto)
    set_metadata(proto, info)
    return proto


def _strip_debug_info(proto: onnx.ModelProto) -> None:
    """Drop the exporter's per-node records (Python stack traces with local paths, FX nodes,
    module names): half the file of a small model, and nothing a runtime reads."""
    for node in proto.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    for value in [*proto.graph.value_info, *proto.graph.input, *proto.graph.output]:
        del value.metadata_props[:]


def set_metadata(proto: onnx.ModelProto, info: ModelInfo) -> None:
    """Replace our ``nas.*`` keys of ``proto``'s metadata by ``info``'s (other keys stay), and set
    the model's ``doc_string`` and ``model_version`` (what generic tools show)."""
    kept = {p.key: p.value for p in proto.metadata_props if not p.key.startswith("nas.")}
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, {**kept, **info.to_metadata()})
    proto.doc_string = info.description()
    proto.model_version = MODEL_VERSION


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Hide the exporter's progress lines and its warnings about optional torchvision ops."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def save_checked(proto: onnx.ModelProto, path: Path) -> None:
    """Write ``proto`` as one self-contained file (no external data) and run the ONNX checker
    with ``full_check`` (shape inference included) on what was written."""
    if proto.ByteSize() >= 2**31 - 1:
        raise ExportError("the model is over 2 GB: too large for a single ONNX file")
    onnx.save_model(proto, path, save_as_external_data=False)
    onnx.checker.check_model(str(path), full_check=True)


@contextmanager
def staged(path: Path) -> Iterator[Path]:
    """A temporary path next to ``path``, renamed onto it when the block succeeds and removed
    when it fails: readers never see a half-written or unchecked file. File-system errors become
    an :class:`ExportError` naming ``path``. Temporary files of ``path`` left by a killed export
    (their process is gone) are removed first."""
    if path.is_dir():
        raise ExportError(f"{path}: is a directory; give the .onnx file to write")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_orphans(path.parent, re.escape(f".{path.name}.") + r"(?P<pid>\d+)\.[0-9a-f]+\.tmp")
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
