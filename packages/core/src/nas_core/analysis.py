"""Which operations are useful: KL divergence to the all-paths one-shot model.

Paper: Bender et al., "Understanding and Simplifying One-Shot Architecture Search",
ICML 2018, Sec. 5 ("Understanding one-shot models"): architectures whose predictions stay
close to those of the full one-shot model (every path on) tend to be the good ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .oneshot import OneShotModel, PathMasks
from .space import Architecture


@torch.no_grad()
def log_probs(model: OneShotModel, images: torch.Tensor, masks: PathMasks, batch_size: int = 500) -> torch.Tensor:
    """Log-probabilities (N, classes) of ``images`` (N, C, H, W) with ``masks`` switched on."""
    model.eval()
    device = next(model.parameters()).device
    out = [F.log_softmax(model(x.to(device), masks=masks).double(), dim=1) for x in images.split(batch_size)]
    return torch.cat(out)


def symmetric_kl(p_log: torch.Tensor, q_log: torch.Tensor) -> float:
    """Mean over examples of KL(p||q) + KL(q||p), from log-probabilities (N, classes)."""
    diff = p_log - q_log
    return float(((p_log.exp() - q_log.exp()) * diff).sum(dim=1).mean())


def kl_to_full_model(
    model: OneShotModel, archs: list[Architecture], images: torch.Tensor, batch_size: int = 500
) -> list[float]:
    """Symmetric KL between each architecture and the all-paths model (ghosts=1), Sec. 5."""
    full = log_probs(model, images, model.all_paths(ghosts=1), batch_size)
    return [symmetric_kl(log_probs(model, images, model.arch_masks(a), batch_size), full) for a in archs]
