"""Training on several processes: torchrun and ``torch.distributed``.

``torchrun --nproc-per-node N`` starts N copies of a command and tells each its place through
environment variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``;
several machines meet through torchrun's rendezvous, see docs/scale.md). The trainers call
:func:`init_world`: under torchrun it joins the process group (NCCL on CUDA, Gloo on CPU), and
without torchrun it returns a world of one process and nothing changes.

What each trainer does with the world:

- one-shot model (``supernet.py``): the *global* batch is cut into ghost batches and rank r runs
  its contiguous slice of them; every rank draws the path-dropout masks of all ghost batches from
  a generator keyed by (seed, step), so the masks do not depend on the number of processes.
  :func:`average_gradients` averages the gradients over ranks, and a parameter that no rank used
  keeps no gradient, exactly as in one process (SGD then leaves it alone). We do this by hand
  rather than with ``DistributedDataParallel``: DDP gives an unused parameter a zero gradient,
  which momentum SGD would still move.
- stand-alone network (``standalone.py``): plain ``DistributedDataParallel``, batch norm per rank
  (or synchronised with :func:`sync_batch_norm`, CUDA only).
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from ..ops import GhostBatchNorm2d

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
# Long enough for rank 0 to search or export alone while the others wait at a barrier.
COLLECTIVE_TIMEOUT = timedelta(hours=12)


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0  # 0 .. size - 1, over all machines
    size: int = 1  # processes in all
    local_rank: int = 0  # index on this machine (its GPU)

    @property
    def main(self) -> bool:
        """Rank 0 alone writes checkpoints, metrics and progress."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def share(self, value):
        """Rank 0's ``value`` (small, picklable: sent between our own processes) on every rank."""
        if self.size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def launched_by_torchrun() -> bool:
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0)) if launched_by_torchrun() else 0


def current_world() -> World:
    """The world this process has joined (a world of one if none)."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), local_rank())
    return World()


def planned_world() -> World:
    """The world torchrun has placed this process in, before joining it (for early checks)."""
    if launched_by_torchrun():
        return World(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), local_rank())
    return current_world()


def init_world(device: torch.device) -> World:
    """Join torchrun's process group once (NCCL for CUDA devices, Gloo otherwise)."""
    if current_world().size > 1 or planned_world().size == 1:
        return current_world()
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    store = _attempt_store()
    if store is None:
        dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT)
    else:
        world = planned_world()
        dist.init_process_group(backend, store=store, rank=world.rank, world_size=world.size,
                                timeout=COLLECTIVE_TIMEOUT)
    atexit.register(_leave)
    return current_world()


def _attempt_store() -> dist.Store | None:
    """torchrun's store, seen through a prefix of its own for each restart, or None for the default.

    torchrun (torch 2.13) keeps one TCP store for all restarts of a job (``--max-restarts``), and
    ``init_process_group`` writes its keys there without a prefix of the attempt. After a restart,
    a rank can read the address a killed rank published in the attempt before and fail with
    "Connection refused" (seen in CI; tests/core/train/test_distributed.py reproduces it by making
    the restarted rank 1 late). A prefix per attempt (``TORCHELASTIC_RESTART_COUNT``) keeps the
    attempts apart. Without torchrun's agent store, rank 0 hosts a new store and nothing is needed.
    """
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return None
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    world = planned_world()
    client = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world.size,
                           is_master=False, timeout=COLLECTIVE_TIMEOUT)
    return dist.PrefixStore(f"nas/attempt_{attempt}", client)


def _leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def all_sum(values: torch.Tensor, world: World) -> torch.Tensor:
    """``values`` summed over all ranks (unchanged in a world of one)."""
    if world.size > 1:
        values = values.clone()
        dist.all_reduce(values)
    return values


def all_equal(value: int, world: World) -> bool:
    """Whether every rank holds the same ``value``."""
    if world.size == 1:
        return True
    found = torch.tensor([value, -value], dtype=torch.float64)
    dist.all_reduce(found, op=dist.ReduceOp.MAX)
    return int(found[0]) == -int(found[1])


def average_gradients(params: list[nn.Parameter], world: World) -> None:
    """Average gradients over ranks, in one all-reduce; a rank that did not use a parameter adds
    zero, and a parameter that no rank used keeps ``grad = None``, as in one process."""
    if world.size == 1:
        return
    used = torch.tensor([float(p.grad is not None) for p in params])  # (P,)
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
                     + [used.to(params[0].device, params[0].dtype)])
    dist.all_reduce(flat)
    flat /= world.size
    offset = 0
    for p, anywhere in zip(params, flat[-len(params):].tolist()):
        chunk = flat[offset:offset + p.numel()].view(p.shape)
        offset += p.numel()
        if anywhere == 0:
            p.grad = None
        elif p.grad is None:
            p.grad = torch.empty_like(p).copy_(chunk)
        else:
            p.grad.copy_(chunk)


class SyncGhostBatchNorm2d(nn.SyncBatchNorm):
    """Stand-alone batch norm with statistics over the global batch (``--sync-bn``). Our cells
    call ``bn(x, ghosts)``; stand-alone networks always pass ``ghosts=1``."""

    def forward(self, x: torch.Tensor, ghosts: int = 1) -> torch.Tensor:
        if ghosts != 1:
            raise RuntimeError("synchronised batch norm is for stand-alone networks (no ghost batches)")
        return super().forward(x)


def sync_batch_norm(module: nn.Module) -> nn.Module:
    """Replace every :class:`GhostBatchNorm2d` of ``module`` by a :class:`SyncGhostBatchNorm2d`
    holding the same parameters and running statistics (in place; returns ``module``)."""
    for name, child in module.named_children():
        if isinstance(child, GhostBatchNorm2d):
            sync = SyncGhostBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                        child.track_running_stats).to(next(child.buffers(), torch.empty(0)).device)
            sync.load_state_dict(child.state_dict())
            sync.train(child.training)
            setattr(module, name, sync)
        else:
            sync_batch_norm(child)
    return module
