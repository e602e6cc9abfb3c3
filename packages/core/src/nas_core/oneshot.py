"""The one-shot model: every architecture of the space inside one weight-sharing network.

Paper: Bender et al., "Understanding and Simplifying One-Shot Architecture Search", ICML 2018,
Sec. 3. Every choice block holds every op of the menu and may read every candidate input;
which paths are on is given by :class:`PathMasks`, passed explicitly to ``forward``:

- scoring an architecture (Sec. 4): ``model(x, arch)``; only the architecture's paths run and
  batch norm uses the statistics of the evaluation batch (there are no running averages);
- training (Sec. 3.2): ``model(x, masks=model.path_dropout(...))`` with scheduled path dropout,
  one mask per ghost batch, batch-norm statistics per ghost batch, and weight decay only on the
  parameters of the paths that were on (:func:`add_weight_decay`).

Only the paths that are on are computed; how (per ghost batch or batched) is the model's
``execution``, chosen once, not a ``forward`` argument. :func:`forward_dense` computes every path
and multiplies by the masks: the reference for tests and benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .network import Head, Network, NetworkConfig, Stem, build_cells
from .ops import ONE_SHOT_NORM, NormSpec
from .space import Architecture, SearchSpace


@dataclass(frozen=True)
class PathMasks:
    """Which paths are on, per cell and ghost batch.

    ``inputs`` (cells, G, N, N+1) bool: block ``b`` reads the first ``2 + b`` columns;
    ``ops`` (cells, G, N, n_ops) bool, in the order of ``space.ops``. Kept on the CPU: they are
    tiny, and the model branches on them to skip work.
    """

    inputs: torch.Tensor
    ops: torch.Tensor

    @property
    def ghosts(self) -> int:
        return self.inputs.shape[1]

    def select(self, ghosts: slice) -> PathMasks:
        """The masks of some ghost batches (a rank's share of a distributed step)."""
        return PathMasks(self.inputs[:, ghosts], self.ops[:, ghosts])

    def ops_on(self) -> torch.Tensor:
        """(cells, G, N, n_ops): op paths that actually run (a block with no input is off)."""
        return self.ops & self.inputs.any(-1, keepdim=True)


EXECUTIONS = ("auto", "per-ghost", "batched")


class OneShotModel(nn.Module):
    """The one-shot model of a search space (Sec. 3.1): stem, cells with every path, head.

    ``execution`` says how the paths that are on run (the results are the same):
    ``"per-ghost"`` runs the model once per ghost batch, each its own sub-network (Sec. 3.2):
    nothing is gathered or masked, the fastest on CPU; ``"batched"`` runs each op once over the
    ghost batches that kept it: G times fewer kernel calls, meant for GPUs; ``"auto"`` picks per
    ghost batch for inputs on the CPU, batched elsewhere. Not a weight: checkpoints do not hold it.
    """

    def __init__(self, space: SearchSpace, config: NetworkConfig, norm: NormSpec = ONE_SHOT_NORM,
                 execution: str = "auto"):
        super().__init__()
        self.space, self.config, self.norm = space, config, norm
        self.cell_types = [kind for kind, _ in config.cell_plan()]
        self.stem = Stem(config.in_channels, config.width, norm)
        self.cells = build_cells(config, norm, space.ops, space.num_blocks, None)
        self.head = Head(config.cell_plan()[-1][1], config.num_classes)
        self.set_execution(execution)

    def set_execution(self, execution: str) -> OneShotModel:
        """Choose the sparse execution (``"auto"``, ``"per-ghost"`` or ``"batched"``); returns self."""
        if execution not in EXECUTIONS:
            raise ValueError(f"unknown execution {execution!r} (known: {', '.join(EXECUTIONS)})")
        self.execution = execution
        return self

    def forward(self, x: torch.Tensor, arch: Architecture | None = None,
                masks: PathMasks | None = None) -> torch.Tensor:
        """Logits (B, classes) for images ``x`` (B, C, H, W), with ``arch`` or ``masks`` switched on.

        The batch is split into ``masks.ghosts`` equal ghost batches; only the paths that are on
        run, as ``self.execution`` says.
        """
        if (arch is None) == (masks is None):
            raise ValueError("pass exactly one of arch= and masks=")
        masks = self._check(x, self.arch_masks(arch) if arch is not None else masks)
        if self._per_ghost(x):
            inputs, ops = masks.inputs.transpose(0, 1).tolist(), masks.ops.transpose(0, 1).tolist()
            return torch.cat([self._forward_ghost(x_g, inputs[g], ops[g])
                              for g, x_g in enumerate(x.chunk(masks.ghosts))])
        return self._forward_masked(x, masks)

    def _per_ghost(self, x: torch.Tensor) -> bool:
        if self.execution == "auto":
            return x.device.type == "cpu"
        return self.execution == "per-ghost"

    @staticmethod
    def _check(x: torch.Tensor, masks: PathMasks) -> PathMasks:
        if x.shape[0] % masks.ghosts:
            raise ValueError(f"batch of {x.shape[0]} does not split into {masks.ghosts} ghost batches")
        return masks

    def _forward_masked(self, x: torch.Tensor, masks: PathMasks, dense: bool = False) -> torch.Tensor:
        """The whole batch at once, masks per ghost batch: batched sparse, or ``dense``."""
        h0 = h1 = self.stem(x, masks.ghosts)
        for cell, in_mask, op_mask in zip(self.cells, masks.inputs, masks.ops):
            h0, h1 = h1, cell.forward_masked(h0, h1, in_mask, op_mask, dense)
        return self.head(h1)

    def _forward_ghost(self, x: torch.Tensor, inputs: list, ops: list) -> torch.Tensor:
        """Logits of one ghost batch; ``inputs``/``ops``: that ghost batch's masks as nested lists
        (cells x N x ...), so the per-path branching costs no tensor operations."""
        h0 = h1 = self.stem(x)
        for cell, in_mask, op_mask in zip(self.cells, inputs, ops):
            h0, h1 = h1, cell.forward_sparse(h0, h1, in_mask, op_mask)
        return self.head(h1)

    def arch_masks(self, arch: Architecture) -> PathMasks:
        """The masks of one architecture: one ghost batch, its paths on, everything else off."""
        self.space.validate(arch)
        N = self.space.num_blocks
        inputs = torch.zeros(len(self.cells), 1, N, N + 1, dtype=torch.bool)
        ops = torch.zeros(len(self.cells), 1, N, len(self.space.ops), dtype=torch.bool)
        for c, kind in enumerate(self.cell_types):
            for b, block in enumerate(arch.cell(kind)):
                inputs[c, 0, b, list(block.inputs)] = True
                ops[c, 0, b, [self.space.ops.index(op) for op in block.ops]] = True
        return PathMasks(inputs, ops)

    def path_dropout(self, ghosts: int, rate: float, ramp: float,
                     generator: torch.Generator) -> PathMasks:
        """Scheduled path dropout (Sec. 3.2), an independent mask for each ghost batch.

        A node with k incoming paths drops each with probability ``ramp * rate ** (1 / k)``, so at
        the end of the ramp (``ramp = 1``) all k are dropped together with probability ``rate``
        whatever k is. Applied separately to a block's input paths (k = 2 + b candidates) and to
        its op paths (k = number of ops). ``ramp`` rises linearly from 0 to 1 over training.
        """
        if not (0.0 <= rate < 1.0 and 0.0 <= ramp <= 1.0):
            raise ValueError(f"need 0 <= rate < 1 and 0 <= ramp <= 1, got rate={rate}, ramp={ramp}")
        N, n_ops, n_cells = self.space.num_blocks, len(self.space.ops), len(self.cells)
        k = torch.arange(2, N + 2, dtype=torch.float64)  # (N,) candidate inputs of block b
        p_input = ramp * rate ** (1.0 / k)  # (N,)
        p_op = ramp * rate ** (1.0 / n_ops)
        valid = torch.arange(N + 1) < k[:, None]  # (N, N+1): column j is a candidate of block b
        u_in = torch.rand(n_cells, ghosts, N, N + 1, generator=generator, dtype=torch.float64)
        u_op = torch.rand(n_cells, ghosts, N, n_ops, generator=generator, dtype=torch.float64)
        return PathMasks((u_in >= p_input[:, None]) & valid, u_op >= p_op)

    def all_paths(self, ghosts: int = 1) -> PathMasks:
        """Every path on: the full one-shot model (used for the "useful ops" analysis)."""
        return self.path_dropout(ghosts, 0.0, 0.0, torch.Generator())

    def active_parameters(self, masks: PathMasks) -> list[nn.Parameter]:
        """Parameters on a path that was on for at least one ghost batch of the step (Sec. 3.2)."""
        op_used = masks.ops_on().any(1)  # (cells, N, n_ops)
        input_used = masks.inputs.any(1).any(1)  # (cells, N+1)
        idle = set()
        for c, cell in enumerate(self.cells):
            for i, pre in enumerate((cell.pre0, cell.pre1)):
                if not input_used[c, i]:
                    idle.update(map(id, pre.parameters()))
            for b, block in enumerate(cell.blocks):
                for op, used in zip(block.ops.values(), op_used[c, b]):
                    if not used:
                        idle.update(map(id, op.parameters()))
        return [p for p in self.parameters() if id(p) not in idle]

    def extract(self, arch: Architecture) -> Network:
        """A plain static network of ``arch``'s paths with the one-shot weights copied in."""
        self.space.validate(arch)
        net = Network(arch, self.config, self.norm).to(next(self.parameters()).device)
        own = self.state_dict()
        net.load_state_dict({name: own[name] for name in net.state_dict()})
        return net.train(self.training)


def forward_dense(model: OneShotModel, x: torch.Tensor, masks: PathMasks) -> torch.Tensor:
    """Dense-masked execution: every path runs on the whole batch and is multiplied by its mask.

    The reference that tests compare sparse execution against (outputs and gradients) and that
    benchmarks time; it computes the same function as ``model(x, masks=masks)``, only slower.
    """
    return model._forward_masked(x, model._check(x, masks), dense=True)


@torch.no_grad()
def add_weight_decay(params: list[nn.Parameter], weight_decay: float) -> None:
    """Add ``weight_decay * p`` to the gradient of each parameter: L2 regularisation applied only
    to the parameters given (Sec. 3.2: "only on what was used"). Call between ``backward`` and
    ``optimizer.step`` with ``model.active_parameters(masks)`` and an optimizer without decay."""
    for p in params:
        if p.grad is None:
            p.grad = weight_decay * p.detach().clone()
        else:
            p.grad.add_(p, alpha=weight_decay)
