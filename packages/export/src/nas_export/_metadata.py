"""What an exported ONNX file says about itself: :class:`ModelInfo`, stored as ``metadata_props``.

Every key starts with ``nas.``; values are strings (JSON where structured). A reader needs no
other file: the architecture, class names, input size and channels, the data set and its
normalisation constants (already applied inside the graph), and two versions: ``nas.format_version``
(of this layout; readers refuse newer ones) and ``nas.export_version`` (of the nas-export package).
The ONNX fields a generic tool shows (Netron, onnxruntime's ``get_modelmeta()``) say it in words:
``doc_string`` (:meth:`ModelInfo.description`) and ``model_version`` (:data:`MODEL_VERSION`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from nas_core import Architecture, ArchitectureError, NetworkConfig

from ._errors import ExportError
from ._version import __version__

FORMAT_VERSION = 1
# ONNX ``model_version`` (int64): the version of the file's contract (input, output, metadata
# layout), i.e. FORMAT_VERSION, so a deployment can refuse files it was not written for.
MODEL_VERSION = FORMAT_VERSION
INPUT_NAME = "images"  # uint8 (B, C, H, W), 0-255
OUTPUT_NAME = "logits"  # float32 (B, num_classes)
INPUT_FORMAT = "uint8 NCHW, 0-255; scaling and per-channel normalisation happen inside the graph"
QUANTIZATIONS = ("none", "int8")


@dataclass(frozen=True)
class ModelInfo:
    """Everything needed to feed and read an exported network (also its ONNX metadata)."""

    arch: Architecture
    network: NetworkConfig
    classes: tuple[str, ...]
    input_size: int  # pixels (height = width)
    mean: tuple[float, ...]  # per channel, [0, 1] units (applied inside the graph)
    std: tuple[float, ...]
    dataset: str
    quantization: str = "none"  # "none" or "int8"
    export_version: str = field(default=__version__, compare=False)

    def __post_init__(self) -> None:
        for name in ("classes", "mean", "std"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not all(isinstance(c, str) for c in self.classes):
            raise ExportError("class names must be strings")
        if len(self.classes) != self.network.num_classes:
            raise ExportError(f"{len(self.classes)} class names for {self.network.num_classes} classes")
        if not len(self.mean) == len(self.std) == self.channels:
            raise ExportError(f"mean/std need one value per channel ({self.channels})")
        if self.input_size < 1 or self.quantization not in QUANTIZATIONS:
            raise ExportError(f"invalid input size {self.input_size} or quantization {self.quantization!r}")

    @property
    def channels(self) -> int:
        return self.network.in_channels

    @property
    def arch_id(self) -> str:
        return self.arch.id

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return (self.channels, self.input_size, self.input_size)

    @classmethod
    def from_result(cls, result: dict[str, Any], input_size: int) -> ModelInfo:
        """From a trained model's ``result.json`` (see ``nas_core.train.train_standalone``)."""
        try:
            return cls(Architecture.from_json(result["arch"]), NetworkConfig(**result["network"]),
                       tuple(result["classes"]), input_size, tuple(result["mean"]),
                       tuple(result["std"]), result["data"])
        except (KeyError, TypeError, ValueError) as e:
            raise ExportError(f"result.json: missing or invalid field ({e})") from None

    def description(self) -> str:
        """The ONNX ``doc_string``: what the file is and how to feed and read it, in words."""
        kind = {1: "grayscale", 3: "RGB"}.get(self.channels, f"{self.channels}-channel")
        quantized = ", int8 (QDQ)" if self.quantization == "int8" else ""
        return (f"oneshot-nas image classifier, architecture {self.arch_id}, trained on {self.dataset}"
                f"{quantized}. Input {INPUT_NAME!r}: uint8 NCHW (batch, {self.channels}, {self.input_size}, "
                f"{self.input_size}), {kind} pixels 0-255; scaling and normalisation happen inside the "
                f"graph. Output {OUTPUT_NAME!r}: float32 (batch, {len(self.classes)}) logits; softmax gives "
                "class probabilities, the class names are the JSON list in metadata nas.classes. "
                "Found by one-shot architecture search (Bender et al., ICML 2018).")

    def to_metadata(self) -> dict[str, str]:
        """``metadata_props`` of the ONNX file (all values strings)."""
        values = {
            "format_version": FORMAT_VERSION, "export_version": self.export_version,
            "arch": self.arch.to_json(), "arch_id": self.arch_id, "network": self.network.to_dict(),
            "classes": list(self.classes), "input_size": self.input_size, "channels": self.channels,
            "input_format": INPUT_FORMAT, "dataset": self.dataset, "mean": list(self.mean),
            "std": list(self.std), "quantization": self.quantization,
        }
        return {f"nas.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}

    @classmethod
    def from_metadata(cls, props: dict[str, str], where: str) -> ModelInfo:
        """Parse and check what :meth:`to_metadata` wrote; :class:`ExportError` names ``where``."""
        if "nas.format_version" not in props:
            raise ExportError(f"{where}: not exported by nas export (no nas.* metadata)",
                              hint="export it with nas_export.export_onnx")
        get = _Reader(props, where)
        version = get.value("format_version", int)
        if version > FORMAT_VERSION:
            raise ExportError(f"{where}: metadata format {version} is newer than this nas-export "
                              f"reads ({FORMAT_VERSION}); upgrade nas-export")
        if version < 1:
            raise ExportError(f"{where}: metadata nas.format_version {version} is not a format version")
        try:
            info = cls(Architecture.from_json(get.text("arch")), NetworkConfig(**get.value("network", dict)),
                       tuple(get.value("classes", list)), get.value("input_size", int),
                       tuple(get.value("mean", list)), tuple(get.value("std", list)),
                       get.text("dataset"), get.text("quantization"), get.text("export_version"))
        except (ArchitectureError, TypeError, ValueError) as e:
            raise ExportError(f"{where}: invalid nas.* metadata ({e})") from None
        if get.text("arch_id") != info.arch_id or get.value("channels", int) != info.channels:
            raise ExportError(f"{where}: inconsistent nas.* metadata (arch_id or channels)")
        return info


class _Reader:
    """Typed access to ``nas.*`` metadata values, with errors that name the file and key."""

    def __init__(self, props: dict[str, str], where: str):
        self.props, self.where = props, where

    def text(self, key: str) -> str:
        try:
            return self.props[f"nas.{key}"]
        except KeyError:
            raise ExportError(f"{self.where}: metadata nas.{key} is missing") from None

    def value(self, key: str, kind: type) -> Any:
        try:
            value = json.loads(self.text(key))
        except json.JSONDecodeError:
            raise ExportError(f"{self.where}: metadata nas.{key} is not valid JSON") from None
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ExportError(f"{self.where}: metadata nas.{key} must be a {kind.__name__}")
        return value
