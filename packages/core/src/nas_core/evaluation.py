"""Loss and top-1 accuracy on a whole split: the one evaluation loop of ``nas_core``.

It takes a forward function rather than a model, so the same loop scores an architecture inside
the one-shot model (Bender et al. 2018, Sec. 4: ``lambda x: model(x, masks=masks)``), a network
with recalibrated batch norm, and a stand-alone network after training (``nas_core.train``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
import torch.nn.functional as F

from . import threads
from .data import DeviceLoader, ImageData


def autocast(device: torch.device, bf16: bool):
    """bf16 autocast on CUDA when asked; a no-op elsewhere."""
    if device.type == "cuda" and bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate_split(forward: Callable[[torch.Tensor], torch.Tensor], data: ImageData,
                   batch_size: int = 500, device: str | torch.device = "cpu",
                   bf16: bool = False) -> dict[str, float]:
    """``{"loss", "accuracy"}`` of ``forward`` (images (B, C, H, W) -> logits (B, classes)) on all
    of ``data``, in file order: mean cross-entropy and top-1 accuracy, summed in float32 on
    ``device`` and read back once. ``bf16``: autocast the forward on CUDA (a no-op elsewhere).
    The caller puts its model in the mode it wants (eval, or one-shot batch statistics)."""
    device = torch.device(device)
    loss, correct = torch.zeros((), device=device), torch.zeros((), device=device)
    for x, y in DeviceLoader(data, batch_size, train=False, device=device):
        threads.tick()  # the `auto` thread policy (nas_core/threads.py)
        with autocast(device, bf16):
            logits = forward(x).float()  # (B, classes)
        loss += F.cross_entropy(logits, y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
    return {"loss": float(loss) / len(data), "accuracy": float(correct) / len(data)}
