"""Training the one-shot model (Bender et al. 2018, Sec. 3.2).

Each step: split the batch into ghost batches, draw path-dropout masks for each from a generator
keyed by (seed, step) (the rate ramps linearly from 0 to ``dropout_rate`` over training, or over
its first ``dropout_ramp`` part), run the sparse one-shot forward, add L2 only to the parameters of
paths that were on, clip, and take an SGD step (Nesterov momentum 0.9, cosine-decayed learning rate
after a short linear warm-up). With ``ema_decay``, an exponential moving average of the weights is
kept beside them (saved with the optimizer state) for scoring.
Under torchrun, the ghost batches of a step are shared out over the processes
(``distributed.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data import ImageData, derived_generator
from ..evaluation import autocast
from ..network import NetworkConfig
from ..oneshot import OneShotModel, add_weight_decay
from ..ops import NormSpec
from ..space import SearchSpace, get_space
from . import checkpoint
from .config import SupernetConfig
from .distributed import average_gradients
from .loop import SHADOW, Callback, Task, prepare, run
from .rundir import RunDirError


def build_supernet(config: SupernetConfig, data: ImageData) -> OneShotModel:
    network = NetworkConfig(config.width, config.cells_per_stack, data.channels, data.num_classes)
    norm = NormSpec(affine=config.bn_affine, running_stats=False)
    return OneShotModel(get_space(config.space), network, norm)


def train_supernet(config: SupernetConfig, data: ImageData, out_dir: str | Path, *,
                   resume: bool = False, callbacks: Iterable[Callback] = ()) -> OneShotModel:
    """Train a one-shot model on ``data`` (the train split); checkpoints go to ``out_dir``.

    Under torchrun each of the ``world.size`` processes runs its contiguous slice of the step's
    ghost batches: the same steps as one process with the same (global) batch."""
    device, world, model, loader = prepare(config, lambda: build_supernet(config, data), data)
    ghosts = config.batch_size // config.ghost_batch  # G, over the global batch
    mine = slice(world.rank * ghosts // world.size, (world.rank + 1) * ghosts // world.size)
    opt = torch.optim.SGD(model.parameters(), lr=config.scaled_lr(), momentum=config.momentum,
                          nesterov=True)
    total = config.total_steps(len(data))
    shadow = ema_weights(model) if config.ema_decay else {}
    live = model.state_dict()  # views of the weights, updated in place by every step
    averaged = ([shadow[k] for k in shadow], [live[k] for k in shadow])

    def step(x: torch.Tensor, y: torch.Tensor, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        # The masks of all G ghost batches, keyed by (seed, step): the same on every rank.
        masks = model.path_dropout(ghosts, config.dropout_rate, ramp(i, total, config.dropout_ramp),
                                   derived_generator(config.seed, f"path-dropout-step-{i}"))
        with autocast(device, config.bf16):
            logits = model(x, masks=masks.select(mine))  # x: this rank's ghost batches
            loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(list(model.parameters()), world)  # mean over the global batch
        add_weight_decay(model.active_parameters(masks), config.weight_decay)  # on anywhere this step
        if config.grad_clip:
            grads = [p for p in model.parameters() if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(grads, config.grad_clip)
        opt.step()
        if shadow:
            update_ema(*averaged, config.ema_decay)
        return loss.detach(), (logits.argmax(1) == y).sum()

    state = {"kind": "supernet", "space": model.space.to_dict(), "config": config.to_dict(),
             "network": model.config.to_dict(), "data": data.info()}
    task = Task(model, opt, step, state, shadow=shadow,
                extra=lambda i: {"dropout": config.dropout_rate * ramp(i, total, config.dropout_ramp)})
    run(task, loader, config, total, out_dir, callbacks, resume)
    return model


def ramp(step: int, total: int, length: float = 1.0) -> float:
    """Path-dropout schedule (Sec. 3.2): rises linearly from 0 at the first step to 1 at the last
    (``length`` 1), or at the step ``length`` of the way through, and stays at 1 after it."""
    return min(1.0, step / max(1.0, length * (total - 1)))


def ema_weights(model: OneShotModel) -> dict[str, torch.Tensor]:
    """A copy of the floating-point weights: the start of their exponential moving average."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}


@torch.no_grad()
def update_ema(averages: list[torch.Tensor], weights: list[torch.Tensor], decay: float) -> None:
    """``average <- decay * average + (1 - decay) * weight`` for each pair, in place (one fused
    call). A path that was off this step keeps its weights, so its average moves towards values it
    already had."""
    torch._foreach_lerp_(averages, weights, 1.0 - decay)


def load_supernet(out_dir: str | Path, device: str | torch.device = "cpu", ema: bool = False) -> OneShotModel:
    """The one-shot model of the newest checkpoint in ``out_dir`` (weights only, no code run);
    the newest that passes its checks if that one is damaged (``checkpoint.find_checkpoint``).
    ``ema``: with the moving average of its weights (trained with ``ema_decay``) instead."""
    found = checkpoint.find_checkpoint(out_dir)
    if found.folder is None and found.damaged:
        raise RunDirError(f"no valid checkpoint in {Path(out_dir) / 'checkpoints'}: {'; '.join(found.damaged)}",
                          hint="train the one-shot model again")
    if found.folder is None:
        raise RunDirError(f"no checkpoint in {out_dir}", hint="train a one-shot model there first")
    folder = found.folder
    state = checkpoint.read_state(folder)
    if state.get("kind") != "supernet":
        raise RunDirError(f"{folder} holds a {state.get('kind')} checkpoint, not a one-shot model")
    space = SearchSpace.from_dict(state["space"])
    config = SupernetConfig.from_dict(state["config"])
    model = OneShotModel(space, NetworkConfig(**state["network"]),
                         NormSpec(affine=config.bn_affine, running_stats=False))
    weights = checkpoint.load_tensors(folder, "model")
    if ema:
        weights.update(_ema_of(folder, config))
    model.load_state_dict(weights)
    if config.channels_last:  # as in training: about 2.5x faster scoring on our CPU
        model = model.to(memory_format=torch.channels_last)
    return model.to(device).eval()


def _ema_of(folder: Path, config: SupernetConfig) -> dict[str, torch.Tensor]:
    if not config.ema_decay:
        raise RunDirError(f"{folder.parent.parent} was trained without a moving average of its weights",
                          hint="train it with {ema_decay} above 0, or score without {ema}")
    trainer = checkpoint.load_tensors(folder, "trainer")
    return {k.removeprefix(SHADOW): v for k, v in trainer.items() if k.startswith(SHADOW)}
