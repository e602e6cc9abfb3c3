"""Does the exported file compute what PyTorch computes? Parity, agreement, accuracy, latency.

Parity compares the same uint8 images through the wrapped PyTorch module
(:class:`~nas_export._graph.Uint8Classifier`, float32, eval mode) and through onnxruntime: the
largest absolute logit difference and the share of images whose top-1 class agrees.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from ._classifier import OnnxClassifier
from ._errors import ParityError

MIN_AGREEMENT = 0.999  # top-1 agreement an export must reach, else ParityError


@torch.no_grad()
def torch_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Logits (N, K) of the PyTorch module on uint8 images, ``batch_size`` at a time."""
    model.eval()
    return torch.cat([model(x) for x in images.split(batch_size)])


def compare(reference: torch.Tensor, logits: torch.Tensor,
            labels: torch.Tensor | None = None) -> dict[str, float]:
    """Max abs logit difference, top-1 agreement and, given labels, both accuracies."""
    top_ref, top = reference.argmax(1), logits.argmax(1)
    found = {"images": len(reference), "max_abs_diff": float((reference - logits).abs().max()),
             "top1_agreement": float((top_ref == top).float().mean())}
    if labels is not None:
        found["accuracy_reference"] = float((top_ref == labels).float().mean())
        found["accuracy"] = float((top == labels).float().mean())
    return found


def check_parity(model: nn.Module, onnx_model: OnnxClassifier, images: torch.Tensor,
                 labels: torch.Tensor | None = None,
                 min_agreement: float = MIN_AGREEMENT) -> dict[str, float]:
    """:func:`compare` PyTorch against onnxruntime on ``images``; :class:`ParityError` when the
    logits are not finite or top-1 agreement is below ``min_agreement``."""
    logits = onnx_model.predict(images)
    found = compare(torch_logits(model, images), logits, labels)
    if not torch.isfinite(logits).all():
        raise ParityError("onnxruntime returned non-finite logits")
    if found["top1_agreement"] < min_agreement:
        raise ParityError(f"top-1 agreement with PyTorch is {found['top1_agreement']:.2%} on "
                          f"{found['images']} images (required {min_agreement:.1%}); max abs logit "
                          f"difference {found['max_abs_diff']:.3g}. Nothing was written")
    return found


def latency_ms(predict: Callable[[torch.Tensor], object], images: torch.Tensor,
               repeats: int = 30, warmup: int = 3) -> float:
    """Median milliseconds of ``predict(images)`` over ``repeats`` calls after ``warmup``."""
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        predict(images)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
