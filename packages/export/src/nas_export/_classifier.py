""":class:`OnnxClassifier`: serve an exported network with onnxruntime, torch tensors in and out.

Input: uint8 images ``(B, C, H, W)`` in 0-255, any batch size, exactly as data sets store them
and as Pillow decodes them (``nas_export.read_images``); the model normalises them itself.
Float images are refused rather than guessed at (0-1 or 0-255?).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import onnxruntime as ort
import torch

from nas_core import Architecture

from ._errors import ExportError
from ._metadata import INPUT_NAME, OUTPUT_NAME, ModelInfo
from ._runtime import open_session, resolve_providers, run_bound

DEFAULT_BATCH = 256  # images per onnxruntime call in predict / evaluate


class OnnxClassifier:
    """An exported network on onnxruntime (``nas export``'s ``.onnx`` file).

    ``providers``: ``None`` runs on the CPU; ``"auto"`` uses CUDAExecutionProvider where
    onnxruntime-gpu provides it; or a list such as ``["CUDAExecutionProvider",
    "CPUExecutionProvider"]``. ``threads``: onnxruntime's intra-op threads (default: its own).
    """

    def __init__(self, path: str | Path, providers: list[str] | str | None = None,
                 threads: int | None = None):
        self.path = Path(path)
        self.session = open_session(self.path, resolve_providers(providers), threads)
        props = self.session.get_modelmeta().custom_metadata_map
        self.info = ModelInfo.from_metadata(props, str(self.path))
        _check_signature(self.session, self.info, str(self.path))

    # -- what the model is ---------------------------------------------------------------------
    @property
    def classes(self) -> tuple[str, ...]:
        return self.info.classes

    @property
    def input_size(self) -> int:
        """Height (= width) in pixels the model takes."""
        return self.info.input_size

    @property
    def channels(self) -> int:
        return self.info.channels

    @property
    def arch(self) -> Architecture:
        return self.info.arch

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def __repr__(self) -> str:
        return (f"OnnxClassifier({str(self.path)!r}, arch={self.info.arch_id}, "
                f"input=uint8x{self.channels}x{self.input_size}x{self.input_size}, "
                f"classes={len(self.classes)}, quantization={self.info.quantization!r})")

    # -- inference ------------------------------------------------------------------------------
    def predict(self, images: torch.Tensor, batch_size: int = DEFAULT_BATCH) -> torch.Tensor:
        """Logits, float32 ``(B, num_classes)`` on ``images``' device, for uint8 ``(B, C, H, W)``
        images in 0-255 (run ``batch_size`` at a time)."""
        self.check_images(images)
        parts = [self._run(chunk) for chunk in images.split(batch_size)]
        logits = parts[0] if len(parts) == 1 else torch.cat(parts)
        return logits.to(images.device)

    def predict_proba(self, images: torch.Tensor, batch_size: int = DEFAULT_BATCH) -> torch.Tensor:
        """Class probabilities (softmax of the logits), ``(B, num_classes)``."""
        return self.predict(images, batch_size).softmax(dim=1)

    def top_k(self, images: torch.Tensor, k: int = 3) -> list[list[tuple[str, float]]]:
        """Per image, the ``k`` most likely ``(class name, probability)``, most likely first."""
        probs, index = self.predict_proba(images).topk(min(k, len(self.classes)), dim=1)
        return [[(self.classes[i], float(p)) for p, i in zip(row_p, row_i)]
                for row_p, row_i in zip(probs.tolist(), index.tolist())]

    def evaluate(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int = DEFAULT_BATCH,
                 on_batch: Callable[[int], None] | None = None) -> dict[str, float]:
        """Top-1 accuracy on labelled images, with images/s of the whole pass (including the
        copies). ``on_batch(n)`` is called after each batch of ``n`` images (progress bars)."""
        self.check_images(images)
        if labels.shape != images.shape[:1]:
            raise ExportError(f"{len(labels)} labels for {len(images)} images")
        correct, start = 0, time.perf_counter()
        for x, y in zip(images.split(batch_size), labels.split(batch_size)):
            correct += int((self._run(x).argmax(1).cpu() == y.cpu()).sum())
            if on_batch is not None:
                on_batch(len(x))
        seconds = time.perf_counter() - start
        return {"accuracy": correct / len(images), "images": len(images), "seconds": seconds,
                "images_per_s": len(images) / seconds if seconds > 0 else float("inf")}

    def check_images(self, images: torch.Tensor) -> None:
        """:class:`ExportError` unless ``images`` are uint8 ``(B, C, H, W)`` of this model's
        channels and size."""
        want = self.info.input_shape
        if not isinstance(images, torch.Tensor):
            raise ExportError(f"images must be a torch.Tensor, got {type(images).__name__}")
        if images.dtype != torch.uint8:
            raise ExportError(f"images must be uint8 (0-255), got {images.dtype}: e.g. "
                              "(x * 255).round().to(torch.uint8) for floats in [0, 1]")
        if images.dim() != 4 or images.shape[0] == 0:
            raise ExportError(f"images must be (B, C, H, W) with B >= 1, got {tuple(images.shape)}")
        if images.shape[1] != self.channels:
            got = images.shape[1]
            raise ExportError(f"images have {got} channel{'s' * (got != 1)}, the model takes "
                              f"{self.channels} ({'grayscale' if self.channels == 1 else 'RGB'})")
        if tuple(images.shape[2:]) != want[1:]:
            raise ExportError(f"images are {images.shape[2]}x{images.shape[3]} pixels, the model "
                              f"takes {want[1]}x{want[2]}: resize them (nas_export.read_images does)")

    def _run(self, images: torch.Tensor) -> torch.Tensor:
        return run_bound(self.session, images, len(self.classes), INPUT_NAME, OUTPUT_NAME)


def _check_signature(session: ort.InferenceSession, info: ModelInfo, where: str) -> None:
    """The graph must take one uint8 (batch, C, H, W) input and give one float (batch, K) output,
    K the number of class names in the metadata (checked here, not when the logits arrive)."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if [i.name for i in inputs] != [INPUT_NAME] or [o.name for o in outputs] != [OUTPUT_NAME]:
        raise ExportError(f"{where}: expected one input {INPUT_NAME!r} and one output "
                          f"{OUTPUT_NAME!r}, found {[i.name for i in inputs]} -> {[o.name for o in outputs]}")
    shape, kind = inputs[0].shape, inputs[0].type
    if kind != "tensor(uint8)" or list(shape[1:]) != list(info.input_shape):
        raise ExportError(f"{where}: input is {kind} {shape}, metadata says uint8 "
                          f"(batch, {', '.join(map(str, info.input_shape))})")
    shape, kind, classes = outputs[0].shape, outputs[0].type, len(info.classes)
    if kind != "tensor(float)" or len(shape) != 2 or shape[1] != classes:
        raise ExportError(f"{where}: output is {kind} {shape}, metadata says float (batch, {classes}) "
                          f"for its {classes} class names")
