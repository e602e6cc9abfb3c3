"""An architecture as Optuna categorical parameters, such that every suggestion is valid.

Each block of each cell type becomes two categorical parameters with readable names and
choices: ``normal.b2.inputs`` in ``["0", "1", "2", "3", "0,1", ...]`` and ``normal.b2.ops`` in
``["avg_pool_3x3", ..., "identity+sep_conv_3x3", ...]``. The choices are exactly the legal
input sets and op sets of the block (``SearchSpace.input_choices`` / ``op_choices``), so there is
no rejection loop and no invalid trial, and a uniform draw of each parameter (Optuna's
``RandomSampler``) is a uniform draw from the whole space, as in the paper.
"""

from __future__ import annotations

import optuna

from nas_core import Architecture, Block, SearchSpace
from nas_core.space import CELL_TYPES


def param_name(cell: str, block: int, field: str) -> str:
    return f"{cell}.b{block}.{field}"


def input_label(inputs: tuple[int, ...]) -> str:
    return ",".join(map(str, inputs))


def ops_label(ops: tuple[str, ...]) -> str:
    return "+".join(ops)


def distributions(space: SearchSpace) -> dict[str, optuna.distributions.CategoricalDistribution]:
    """Every parameter of the encoding with its choices, in a fixed order."""
    ops = [ops_label(o) for o in space.op_choices()]
    dists = {}
    for cell in CELL_TYPES:
        for b in range(space.num_blocks):
            inputs = [input_label(i) for i in space.input_choices(b)]
            dists[param_name(cell, b, "inputs")] = optuna.distributions.CategoricalDistribution(inputs)
            dists[param_name(cell, b, "ops")] = optuna.distributions.CategoricalDistribution(ops)
    return dists


def suggest_architecture(trial: optuna.Trial, space: SearchSpace) -> Architecture:
    """Ask ``trial`` for one value of every parameter and decode them."""
    params = {name: trial.suggest_categorical(name, dist.choices)
              for name, dist in distributions(space).items()}
    return decode(space, params)


def decode(space: SearchSpace, params: dict[str, str]) -> Architecture:
    cells = {}
    for cell in CELL_TYPES:
        blocks = []
        for b in range(space.num_blocks):
            inputs = tuple(int(i) for i in params[param_name(cell, b, "inputs")].split(","))
            ops = tuple(params[param_name(cell, b, "ops")].split("+"))
            blocks.append(Block(inputs, ops))
        cells[cell] = tuple(blocks)
    return space.validate(Architecture(space.name, **cells))


def encode(arch: Architecture) -> dict[str, str]:
    """The parameters of ``arch`` (e.g. to enqueue it as a trial)."""
    params = {}
    for cell in CELL_TYPES:
        for b, block in enumerate(arch.cell(cell)):
            params[param_name(cell, b, "inputs")] = input_label(block.inputs)
            params[param_name(cell, b, "ops")] = ops_label(block.ops)
    return params
