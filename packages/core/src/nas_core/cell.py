"""Choice blocks and cells, shared by the one-shot model and the stand-alone network.

Paper: Bender et al. 2018, Sec. 3.1. A choice block sums its selected inputs, applies each
selected op to that sum and sums the op outputs (Note: the paper's figures leave the order open;
summing first is our choice, see README "Differences from the paper"). A cell preprocesses its
two inputs to its own width and resolution, runs its N blocks and concatenates their outputs,
followed by a 1x1 conv back to the cell's width.

Three forward passes over the same modules:

- ``forward``: the stand-alone network. The block's inputs and ops were fixed at construction,
  so nothing branches on an architecture at run time (ONNX export can trace it).
- ``forward_sparse``: the one-shot model on one ghost batch (its ``"per-ghost"`` execution).
  Every op of the menu is present; boolean masks (plain lists) say which input and op paths are
  on, and only those run.
- ``forward_masked``: the one-shot model on the whole batch, masks per ghost batch as tensors.
  Batched sparse execution (``"batched"``) runs each op once on the ghost batches that kept it
  (fewer, larger kernel calls: the choice for GPUs); ``dense=True`` runs every path on every
  example and multiplies by the masks: only ``oneshot.forward_dense``, the reference that tests
  and benchmarks compare against, asks for it.
"""

from __future__ import annotations

import functools

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


def _by_ghost(x: torch.Tensor, ghosts: int):
    """``x`` (B, C, H, W) as a (G, B/G * C*H*W) view, one row per ghost batch, and the function
    that turns such rows back into images. Keeps channels-last tensors channels-last."""
    _, C, H, W = x.shape
    if x.is_contiguous(memory_format=torch.channels_last):
        return x.permute(0, 2, 3, 1).reshape(ghosts, -1), lambda f: f.view(-1, H, W, C).permute(0, 3, 1, 2)
    return x.reshape(ghosts, -1), lambda f: f.view(-1, C, H, W)


def _add_on_ghosts(partial, op: nn.Module, x: torch.Tensor, on: torch.Tensor):
    """Add ``op(x)``, run on the ghost batches where ``on`` (G,) is true only, into ``partial``.

    Whole ghost batches are gathered as rows (``index_select``), so the op never sees the
    examples that dropped it. Its output rows are added in place (``index_add_``) into one
    (G, rows) accumulator per block, ``partial = (rows, to_images)``, which starts at zero: no
    zero tensor and full-size sum per op, and, because the accumulator is a tensor of its own
    rather than a view of an image tensor, no full-size gradient copies in the backward pass.
    Both ops have cheap gradients (the selected rows of the incoming gradient)."""
    ghosts, idx = len(on), on.nonzero().squeeze(1).to(x.device)
    rows, to_images = _by_ghost(x, ghosts)
    y = op(to_images(rows.index_select(0, idx)), len(idx))  # (G_on * B/G, C, H, W)
    layout = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    y_rows, to_images = _by_ghost(y.contiguous(memory_format=layout), len(idx))  # rows in x's layout
    if partial is None:
        partial = (y_rows.new_zeros(ghosts, y_rows.shape[1]), to_images)
    partial[0].index_add_(0, idx, y_rows)
    return partial


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

    def forward_masked(self, states, in_mask, op_mask, zeros, dense=False) -> torch.Tensor:
        """One-shot model, the whole batch at once. ``in_mask`` (G, k) and ``op_mask`` (G, n_ops)
        are bool, one row per ghost batch. Batched sparse: an op runs once, on the ghost batches
        that kept it (gathered); ``dense=True``: every op on everything, multiplied by the masks."""
        node_on = in_mask.any(1)  # a block with every input dropped outputs zero
        x = self._masked_inputs(states, in_mask, dense)
        outputs, partial = [], None
        for op, on in zip(self.ops.values(), (op_mask & node_on[:, None]).unbind(1)):
            if dense:
                outputs.append(op(x, len(on)) * _per_example(on, x))
            elif on.all():
                outputs.append(op(x, len(on)))
            elif on.any():
                partial = _add_on_ghosts(partial, op, x, on)  # only the ghosts that use it
        if partial is not None:
            rows, to_images = partial
            outputs.append(to_images(rows))
        return _sum(outputs) if outputs else zeros()

    def _masked_inputs(self, states, in_mask, dense):
        terms = []
        for x, on in zip(states, in_mask.unbind(1)):
            if dense or (on.any() and not on.all()):
                terms.append(x * _per_example(on, x))
            elif on.all():
                terms.append(x)  # on for every ghost batch: no multiply needed
        return _sum(terms) if terms else None  # None: every input dropped everywhere


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
        zeros = functools.partial(self._zeros, h1)  # made only where an op must run on zeros

        for b, block in enumerate(self.blocks):
            states.append(block.forward_sparse(states, in_mask[b][: 2 + b], op_mask[b], zeros))
        return self._combine(states[2:], 1, zeros)

    def forward_masked(self, h0, h1, in_mask, op_mask, dense=False) -> torch.Tensor:
        """The whole batch at once: ``in_mask`` (G, N, N+1), block b reads columns ``:2+b``;
        ``op_mask`` (G, N, n_ops); one row per ghost batch, batch norm per ghost batch.
        ``dense=True``: the dense-masked reference; else batched sparse (``ChoiceBlock``)."""
        ghosts = in_mask.shape[0]
        states = [
            pre(h, ghosts) if dense or in_mask[:, :, i].any() else None
            for i, (pre, h) in enumerate(((self.pre0, h0), (self.pre1, h1)))
        ]
        zeros = functools.partial(self._zeros, h1)  # made only where an op must run on zeros

        for b, block in enumerate(self.blocks):
            states.append(block.forward_masked(states, in_mask[:, b, : 2 + b], op_mask[:, b], zeros, dense))
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

    def _zeros(self, h1: torch.Tensor) -> torch.Tensor:
        """Zeros shaped like this cell's blocks' outputs, in ``h1``'s memory format. Made only
        where an op must run on them: a full-size fill costs a pass over memory."""
        B, _, H, W = h1.shape
        if self.reduction:
            H, W = (H + 1) // 2, (W + 1) // 2
        cl = h1.is_contiguous(memory_format=torch.channels_last)
        return torch.empty((B, self.channels, H, W), dtype=h1.dtype, device=h1.device,
                           memory_format=torch.channels_last if cl else torch.contiguous_format).zero_()


def _preprocess(c_in: int, c_out: int, stride: int, norm: NormSpec) -> nn.Module:
    if stride == 2:
        return FactorizedReduce(c_in, c_out, norm)
    return ReLUConvBN(c_in, c_out, 1, norm)
