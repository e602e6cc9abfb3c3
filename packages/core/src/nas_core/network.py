"""The network skeleton and stand-alone networks (Bender et al. 2018, Sec. 3.1 and 4).

Skeleton: stem conv, then 3 stacks of ``cells_per_stack`` normal cells with a reduction cell
(stride 2, channels doubled) between stacks, ReLU, global average pooling, linear classifier.
The one-shot model (``oneshot.py``) and :class:`Network` build the same skeleton from the same
:class:`~nas_core.cell.Cell`, so their parameters have the same names.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .cell import Cell, DropPath
from .ops import STANDALONE_NORM, GhostBatchNorm2d, NormSpec
from .space import Architecture, ArchitectureError, Block, get_space

NUM_STACKS = 3


@dataclass(frozen=True)
class NetworkConfig:
    """Shape of the network; shared by the one-shot model and stand-alone networks."""

    width: int = 16  # F: channels of the first stack, doubled at each reduction
    cells_per_stack: int = 2  # normal cells per stack (the paper's N for cells)
    in_channels: int = 3  # image channels (1 for Fashion-MNIST)
    num_classes: int = 10

    def __post_init__(self) -> None:
        if self.width < 2 or self.cells_per_stack < 1 or self.in_channels < 1 or self.num_classes < 2:
            raise ValueError(f"invalid network config: {self}")

    def to_dict(self) -> dict:
        return asdict(self)

    def cell_plan(self) -> list[tuple[str, int]]:
        """``(cell type, channels)`` of every cell, input to output."""
        plan = []
        for stack in range(NUM_STACKS):
            channels = self.width * 2**stack
            if stack > 0:
                plan.append(("reduce", channels))
            plan += [("normal", channels)] * self.cells_per_stack
        return plan


class Stem(nn.Module):
    """3x3 conv + batch norm, from image channels to ``width``."""

    def __init__(self, c_in: int, c_out: int, norm: NormSpec):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn = GhostBatchNorm2d(c_out, norm)

    def forward(self, x: torch.Tensor, ghosts: int = 1) -> torch.Tensor:
        return self.bn(self.conv(x), ghosts)


class Head(nn.Module):
    """ReLU, global average pooling, linear classifier."""

    def __init__(self, c_in: int, num_classes: int):
        super().__init__()
        self.classifier = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(F.relu(x), 1).flatten(1)  # (B, C)
        return self.classifier(x)  # (B, num_classes)


def build_cells(config: NetworkConfig, norm: NormSpec, ops: tuple[str, ...], num_blocks: int,
                arch: Architecture | None) -> nn.ModuleList:
    """Every cell of the skeleton; ``arch=None`` gives the one-shot cells with all paths."""
    cells = nn.ModuleList()
    c_pp = c_p = config.width  # channels of the two cell inputs (both the stem at first)
    prev_reduction = False
    for kind, channels in config.cell_plan():
        reduction = kind == "reduce"
        strides = (2 if reduction or prev_reduction else 1, 2 if reduction else 1)
        blocks = arch.cell(kind) if arch is not None else None
        cells.append(Cell((c_pp, c_p), channels, strides, norm, ops, num_blocks, blocks))
        c_pp, c_p, prev_reduction = c_p, channels, reduction
    return cells


class Network(nn.Module):
    """A stand-alone network: only the architecture's paths, nothing decided at run time."""

    def __init__(self, arch: Architecture, config: NetworkConfig, norm: NormSpec = STANDALONE_NORM):
        super().__init__()
        self.arch, self.config = arch, config
        self.stem = Stem(config.in_channels, config.width, norm)
        self.cells = build_cells(config, norm, (), len(arch.normal), arch)
        self.head = Head(config.cell_plan()[-1][1], config.num_classes)

    def forward(self, x: torch.Tensor, drop_path: DropPath | None = None) -> torch.Tensor:
        """``x`` (B, in_channels, H, W) normalised images -> logits (B, num_classes).

        ``drop_path`` is for training only (scheduled drop-path, see :class:`DropPath`)."""
        h0 = h1 = self.stem(x)
        for cell in self.cells:
            h0, h1 = h1, cell(h0, h1, drop_path)
        return self.head(h1)


def build_network(arch: Architecture, config: NetworkConfig | None = None) -> Network:
    """A fresh stand-alone network for training ``arch`` from scratch (batch norm with scale,
    shift and running statistics)."""
    _check_blocks(arch)
    return Network(arch, config or NetworkConfig())


def _check_blocks(arch: Architecture) -> None:
    try:
        get_space(arch.space).validate(arch)
    except KeyError:  # a space that is not registered: check the structure at least
        for name, blocks in arch.cells.items():
            if not blocks or not all(isinstance(b, Block) and b.inputs and b.ops for b in blocks):
                raise ArchitectureError(f"{name} cell: every block needs inputs and ops") from None


def count_params(module: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in module.parameters())


def count_flops(module: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """FLOPs of one forward pass on one image of shape ``(C, H, W)`` (torch's flop counter:
    a multiply-add counts as 2)."""
    was_training = module.training
    module.eval()
    try:
        p = next(module.parameters())
        x = torch.zeros(1, *input_shape, device=p.device, dtype=p.dtype)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(x)
    finally:
        module.train(was_training)
    return counter.get_total_flops()


@torch.no_grad()
def median_ms(call, repeats: int = 20, warmup: int = 5) -> float:
    """Median milliseconds of ``call()`` over ``repeats`` calls, after ``warmup`` untimed ones (they
    fill caches, pick kernels and allocate buffers; the median ignores stray slow calls)."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure_latency(module: nn.Module, input_shape: tuple[int, int, int], repeats: int = 20, warmup: int = 5,
                    threads: int | None = 1) -> float:
    """Median milliseconds of one forward pass at batch 1 on this machine: inference mode, after
    ``warmup`` passes, with ``threads`` intra-op CPU threads (restored afterwards; None: as set).

    One thread by default: batch-1 latency of a small network is then comparable between
    architectures and between runs (no thread-pool start-up, no contention with other work) and
    stands for a one-core deployment target."""
    was_training, before = module.training, torch.get_num_threads()
    module.eval()
    p = next(module.parameters())
    x = torch.zeros(1, *input_shape, device=p.device, dtype=p.dtype)
    sync = torch.cuda.synchronize if p.device.type == "cuda" else (lambda: None)

    def forward() -> None:
        module(x)
        sync()

    try:
        if threads is not None:
            torch.set_num_threads(threads)
        with torch.inference_mode():
            return median_ms(forward, repeats, warmup)
    finally:
        torch.set_num_threads(before)
        module.train(was_training)


def arch_cost(arch: Architecture, config: NetworkConfig, image_size: int) -> dict[str, int]:
    """Parameters and FLOPs of ``arch``'s stand-alone network at ``image_size`` x ``image_size``."""
    net = build_network(arch, config)
    shape = (config.in_channels, image_size, image_size)
    return {"params": count_params(net), "flops": count_flops(net, shape)}
