"""Choice blocks and cells, shared by the one-shot model and the stand-alone network.

Paper: Bender et al. 2018, Sec. 3.1. A choice block sums its selected inputs, applies each
selected op to that sum and sums the op outputs (Note: the paper's figures leave the order open;
summing first is our choice, see README "Differences from the paper"). A cell preprocesses its
two inputs to its own width and resolution, runs its N blocks and concatenates their outputs,
followed by a 1x1 conv back to the cell's width.

Three forward passes over the same modules:

- ``forward``: the stand-alone network. The block's inputs and ops were fixed at construction,
  so nothing branches on an architecture at run time (ONNX export can trace it).
- ``forward_sparse``: the one-shot model on one ghost batch. Every op of the menu is present;
  boolean masks (plain lists) say which input and op paths are on, and only those run.
- ``forward_dense``: the one-shot model's dense-masked reference on the whole batch. Every path
  runs on every example and is multiplied by its ghost batch's mask; tests and benchmarks
  compare sparse execution against it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .ops import FactorizedReduce, Identity, NormSpec, ReLUConvBN, create_op
from .space import Block


def _sum(tensors: list[torch.Tensor]) -> torch.Tensor:
    total = tensors[0]
    for t in tensors[1:]:
        total = total + t
    return total


def _per_example(on: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Ghost-batch mask ``(G,)`` -> multiplier ``(B, 1, 1, 1)`` on ``like``'s device and dtype."""
    ghost_size = like.shape[0] // on.shape[0]
    return on.to(like.device, like.dtype).repeat_interleave(ghost_size).view(-1, 1, 1, 1)


class DropPath:
    """Scheduled drop-path for stand-alone training (NASNet): zero an op's output per example with
    probability ``p``, scaling the survivors by ``1 / (1 - p)``. Identity ops are never dropped."""

    def __init__(self, p: float, generator: torch.Generator):
        self.p, self.generator = p, generator

    def __call__(self, y: torch.Tensor) -> torch.Tensor:
        if self.p <= 0:
            return y
        keep = torch.rand(y.shape[0], 1, 1, 1, device=y.device, generator=self.generator) >= self.p
        return y * keep.to(y.dtype) / (1 - self.p)


class ChoiceBlock(nn.Module):
    """Sum the chosen inputs, apply the chosen ops, sum the results (Sec. 3.1)."""

    def __init__(self, channels: int, ops: tuple[str, ...], norm: NormSpec, inputs=None):
        super().__init__()
        self.inputs = inputs  # fixed input indices (stand-alone) or None (one-shot: all)
        self.ops = nn.ModuleDict({name: create_op(name, channels, norm) for name in ops})

    def forward(self, states: list[torch.Tensor], drop_path: DropPath | None = None) -> torch.Tensor:
        x = _sum([states[i] for i in self.inputs])
        outputs = [op(x) for op in self.ops.values()]
        if drop_path is not None:
            outputs = [y if isinstance(op, Identity) else drop_path(y)
                       for op, y in zip(self.ops.values(), outputs)]
        return _sum(outputs)

    def forward_sparse(self, states, inputs_on: list[bool], ops_on: list[bool], zeros):
        """One-shot model, one ghost batch: only the paths that are on run, nothing is masked.

        A ``None`` state stands for zeros (a block whose paths were all off); ``zeros()`` makes
        them only where an op must actually run on zeros. Returns ``None`` for an all-off block."""
        ops = [op for op, on in zip(self.ops.values(), ops_on) if on]
        if not any(inputs_on) or not ops:  # every input or every op dropped: the block outputs 0
            return None
        terms = [s for s, on in zip(states, inputs_on) if on and s is not None]
        x = _sum(terms) if terms else zeros()
        return _sum([op(x) for op in ops])

    def forward_dense(self, states, in_mask: torch.Tensor, op_mask: torch.Tensor) -> torch.Tensor:
        """The dense-masked reference: every path on every example, multiplied by the masks.
        ``in_mask`` (G, k) and ``op_mask`` (G, n_ops) are bool, one row per ghost batch."""
        ghosts, node_on = in_mask.shape[0], in_mask.any(1)  # a block with no input outputs 0
        x = _sum([s * _per_example(on, s) for s, on in zip(states, in_mask.unbind(1))])
        return _sum([op(x, ghosts) * _per_example(on, x)
                     for op, on in zip(self.ops.values(), (op_mask & node_on[:, None]).unbind(1))])


class Cell(nn.Module):
    """A normal or reduction cell. ``blocks=None`` builds the one-shot cell with every path.

    ``strides`` gives, for the two cell inputs (two cells back, previous cell), how much each must
    be downsampled to reach this cell's resolution (1 or 2). Note: in a reduction cell both inputs
    are reduced by a factorized reduce before the choice blocks, which then work at stride 1; the
    paper does not say where the stride goes (README, "Differences from the paper").
    """

    def __init__(self, c_in: tuple[int, int], channels: int, strides: tuple[int, int],
                 norm: NormSpec, ops: tuple[str, ...], num_blocks: int,
                 blocks: tuple[Block, ...] | None = None):
        super().__init__()
        self.channels, self.reduction = channels, strides[1] == 2
        used = {i for b in blocks for i in b.inputs} if blocks is not None else {0, 1}
        self.pre0, self.pre1 = (
            _preprocess(c, channels, s, norm) if i in used else None
            for i, (c, s) in enumerate(zip(c_in, strides))
        )
        self.blocks = nn.ModuleList(
            ChoiceBlock(channels, ops, norm)
            if blocks is None
            else ChoiceBlock(channels, blocks[b].ops, norm, blocks[b].inputs)
            for b in range(num_blocks)
        )
        self.out = ReLUConvBN(num_blocks * channels, channels, 1, norm)

    def forward(self, h0: torch.Tensor, h1: torch.Tensor, drop_path: DropPath | None = None) -> torch.Tensor:
        states = [pre(h) if pre is not None else None for pre, h in ((self.pre0, h0), (self.pre1, h1))]
        for block in self.blocks:
            states.append(block(states, drop_path))
        return self.out(torch.cat(states[2:], dim=1))  # (B, N*C, H, W) -> (B, C, H, W)

    def forward_sparse(self, h0, h1, in_mask: list[list[bool]], op_mask: list[list[bool]]) -> torch.Tensor:
        """One ghost batch of the one-shot model. ``in_mask``: N rows of N+1 bools (block b reads
        the first 2+b); ``op_mask``: N rows of one bool per op. Off paths are never computed."""
        states = [pre(h) if any(row[i] for row in in_mask) else None
                  for i, (pre, h) in enumerate(((self.pre0, h0), (self.pre1, h1)))]
        layout = torch.channels_last if h1.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format

        def zeros() -> torch.Tensor:  # made only where needed: a full-size fill costs a memory pass
            return torch.empty(self._output_shape(h1), dtype=h1.dtype, device=h1.device,
                               memory_format=layout).zero_()

        for b, block in enumerate(self.blocks):
            states.append(block.forward_sparse(states, in_mask[b][: 2 + b], op_mask[b], zeros))
        return self._combine(states[2:], 1, zeros)

    def forward_dense(self, h0, h1, in_mask: torch.Tensor, op_mask: torch.Tensor) -> torch.Tensor:
        """The dense-masked reference over the whole batch: ``in_mask`` (G, N, N+1), ``op_mask``
        (G, N, n_ops), one row per ghost batch; batch norm per ghost batch."""
        ghosts = in_mask.shape[0]
        states = [self.pre0(h0, ghosts), self.pre1(h1, ghosts)]
        for b, block in enumerate(self.blocks):
            states.append(block.forward_dense(states, in_mask[:, b, : 2 + b], op_mask[:, b]))
        return self._combine(states[2:], ghosts)

    def _combine(self, outputs: list[torch.Tensor | None], ghosts: int, zeros=None) -> torch.Tensor:
        """``self.out`` (ReLU, 1x1 conv, BN) of the concatenated block outputs, computed without the
        concatenation: a 1x1 conv over stacked channels is the sum of 1x1 convs over each block's
        channels with its slice of the weight, and an all-zero (``None``) block adds nothing. Same
        weights and result as ``forward``; on CPU the channel concatenation of channels-last
        tensors cost more than the convolution itself."""
        weights = self.out.conv.weight.split(self.channels, dim=1)  # (C, C, 1, 1) per block
        terms = [F.conv2d(F.relu(h), w) for h, w in zip(outputs, weights) if h is not None]
        y = _sum(terms) if terms else zeros()
        return self.out.bn(y, ghosts)

    def _output_shape(self, h1: torch.Tensor) -> tuple[int, int, int, int]:
        B, _, H, W = h1.shape
        if self.reduction:
            H, W = (H + 1) // 2, (W + 1) // 2
        return (B, self.channels, H, W)


def _preprocess(c_in: int, c_out: int, stride: int, norm: NormSpec) -> nn.Module:
    if stride == 2:
        return FactorizedReduce(c_in, c_out, norm)
    return ReLUConvBN(c_in, c_out, 1, norm)
