"""The operations of the search space, in ReLU-conv-BN order (Bender et al. 2018, Sec. 3.1).

Every module here takes ``forward(x, ghosts=1)``: ``x`` is ``(B, C, H, W)`` made of ``ghosts``
equal ghost batches, and every batch norm computes its statistics per ghost batch (ghost batch
norm, Sec. 3.2). Stand-alone networks call them with the default ``ghosts=1`` and behave like
ordinary layers, so the same modules serve the one-shot model and the exported network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class NormSpec:
    """How batch norm behaves. One-shot model: no scale/shift, no running statistics (Sec. 3.2)."""

    affine: bool = True
    running_stats: bool = True


ONE_SHOT_NORM = NormSpec(affine=False, running_stats=False)
STANDALONE_NORM = NormSpec(affine=True, running_stats=True)


class GhostBatchNorm2d(nn.BatchNorm2d):
    """Batch norm whose statistics are computed per ghost batch when ``ghosts > 1``.

    Without running statistics (the one-shot model) it always normalises with the statistics of
    the batch it sees, in training and in evaluation alike: the paper's "batch norm at evaluation".
    """

    def __init__(self, channels: int, norm: NormSpec):
        super().__init__(channels, affine=norm.affine, track_running_stats=norm.running_stats)

    def forward(self, x: torch.Tensor, ghosts: int = 1) -> torch.Tensor:
        if ghosts == 1:
            return super().forward(x)
        if self.track_running_stats:
            raise RuntimeError("ghost batch norm is for the one-shot model (no running statistics)")
        # One native batch-norm call per ghost batch: on CPU about 10x faster than reducing a
        # (G, B/G, C, H, W) view with var_mean, and it keeps channels-last tensors channels-last.
        return torch.cat([F.batch_norm(chunk, None, None, self.weight, self.bias, True, 0.0, self.eps)
                          for chunk in x.chunk(ghosts)])


class ReLUConvBN(nn.Module):
    """ReLU, convolution, batch norm: the paper's conv unit."""

    def __init__(self, c_in: int, c_out: int, kernel, norm: NormSpec, stride: int = 1):
        super().__init__()
        kernel = (kernel, kernel) if isinstance(kernel, int) else kernel
        padding = (kernel[0] // 2, kernel[1] // 2)
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False)
        self.bn = GhostBatchNorm2d(c_out, norm)

    def forward(self, x: torch.Tensor, ghosts: int = 1) -> torch.Tensor:
        return self.bn(self.conv(F.relu(x)), ghosts)


class SepConv(nn.Module):
    """Depthwise-separable k x k convolution, applied twice (NASNet style)."""

    def __init__(self, c: int, kernel: int, norm: NormSpec):
        super().__init__()
        self.depthwise = nn.ModuleList(
            nn.Conv2d(c, c, kernel, 1, kernel // 2, groups=c, bias=False) for _ in range(2)
        )
        self.pointwise = nn.ModuleList(nn.Conv2d(c, c, 1, bias=False) for _ in range(2))
        self.bns = nn.ModuleList(GhostBatchNorm2d(c, norm) for _ in range(2))

    def forward(self, x: torch.Tensor, ghosts: int = 1) -> torch.Tensor:
        for dw, pw, bn in zip(self.depthwise, self.pointwise, self.bns):
            x = bn(pw(dw(F.relu(x))), ghosts)
        return x


class Conv1x7_7x1(nn.Module):
    """A 1x7 convolution followed by a 7x1 convolution, then batch norm."""

    def __init__(self, c: int, norm: NormSpec):
        super().__init__()
        self.conv_1x7 = nn.Conv2d(c, c, (1, 7), padding=(0, 3), bias=False)
        self.conv_7x1 = nn.Conv2d(c, c, (7, 1), padding=(3, 0), bias=False)
        self.bn = GhostBatchNorm2d(c, norm)

    def forward(self, x: torch.Tensor, ghosts: int = 1) -> torch.Tensor:
        return self.bn(self.conv_7x1(self.conv_1x7(F.relu(x))), ghosts)


class Pool(nn.Module):
    """3x3 max or average pooling, stride 1 (no parameters, no batch norm)."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def forward(self, x: torch.Tensor, ghosts: int = 1) -> torch.Tensor:
        if self.kind == "max":
            return F.max_pool2d(x, 3, 1, 1)
        return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class Identity(nn.Module):
    def forward(self, x: torch.Tensor, ghosts: int = 1) -> torch.Tensor:
        return x


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset stride-2 1x1 convs, concatenated (NASNet).

    Used where a cell input is at twice the cell's resolution (after or inside a reduction).

    Note: the stride is taken by slicing (every second pixel), then a stride-1 1x1 conv: the same
    function and weights as a stride-2 1x1 conv. torch 2.13.0+cpu (oneDNN) computes the weight
    gradient of a channels-last stride-2 1x1 conv with fewer than 6 input channels wrong (by
    ~100%), and corrupts the heap with one thread; ``tests/core/test_ops.py`` checks the gradient.
    """

    def __init__(self, c_in: int, c_out: int, norm: NormSpec):
        super().__init__()
        self.conv_a = nn.Conv2d(c_in, c_out // 2, 1, bias=False)
        self.conv_b = nn.Conv2d(c_in, c_out - c_out // 2, 1, bias=False)
        self.bn = GhostBatchNorm2d(c_out, norm)

    def forward(self, x: torch.Tensor, ghosts: int = 1) -> torch.Tensor:
        x = F.relu(x)  # (B, C, H, W)
        shifted = F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))  # offset by one pixel, same size
        y = torch.cat([self.conv_a(x[:, :, ::2, ::2]), self.conv_b(shifted[:, :, ::2, ::2])], dim=1)
        return self.bn(y, ghosts)  # (B, c_out, ceil(H/2), ceil(W/2))


# name -> factory(channels, norm). Keys are the op names of nas_core.space.OP_CODES.
OPS: dict[str, Callable[[int, NormSpec], nn.Module]] = {
    "identity": lambda c, norm: Identity(),
    "sep_conv_3x3": lambda c, norm: SepConv(c, 3, norm),
    "sep_conv_5x5": lambda c, norm: SepConv(c, 5, norm),
    "sep_conv_7x7": lambda c, norm: SepConv(c, 7, norm),
    "conv_1x7_7x1": lambda c, norm: Conv1x7_7x1(c, norm),
    "max_pool_3x3": lambda c, norm: Pool("max"),
    "avg_pool_3x3": lambda c, norm: Pool("avg"),
}


def create_op(name: str, channels: int, norm: NormSpec) -> nn.Module:
    """Build op ``name`` for ``channels`` channels (stride 1, shape preserving)."""
    return OPS[name](channels, norm)
