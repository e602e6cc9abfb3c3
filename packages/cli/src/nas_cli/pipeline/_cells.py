"""A picture of an architecture's two cells (``plots/cells.png``) and the op codes of its string form.

Bender et al. 2018, Sec. 3.1: a cell takes the outputs of the two cells before it (``c[k-2]``,
``c[k-1]``; inputs 0 and 1 of a block), runs N choice blocks and concatenates their outputs
(then a 1x1 conv). Block ``b`` sums its chosen inputs (0, 1, or ``2 + j`` for block ``j``), applies
each chosen op to the sum and adds the results. The picture draws exactly that: one box per
block labelled with its op codes, an arrow from each input, and every block into the output.
"""

from __future__ import annotations

from pathlib import Path

from nas_core import Architecture
from nas_core.space import CELL_TYPES, OP_CODES

from .._plots import pyplot, save

# What each op of the menu is (nas_core/ops.py), by its name in OP_CODES.
OP_MEANINGS: dict[str, str] = {
    "identity": "identity: the input unchanged",
    "sep_conv_3x3": "depthwise-separable 3x3 convolution, applied twice (ReLU-conv-BN)",
    "sep_conv_5x5": "depthwise-separable 5x5 convolution, applied twice",
    "sep_conv_7x7": "depthwise-separable 7x7 convolution, applied twice",
    "conv_1x7_7x1": "a 1x7 then a 7x1 convolution (ReLU-conv-conv-BN)",
    "max_pool_3x3": "3x3 max pooling, stride 1",
    "avg_pool_3x3": "3x3 average pooling, stride 1",
}
TITLES = {"normal": "normal cell", "reduce": "reduction cell (half the resolution, twice the channels)"}


def op_code_table() -> list[str]:
    """The op codes of the string form (``s3``, ``c17``, ...) as Markdown table lines."""
    rows = [f"| `{code}` | `{name}` | {OP_MEANINGS.get(name, '')} |" for name, code in OP_CODES.items()]
    return ["| code | op | what it does |", "| --- | --- | --- |", *rows]


def _positions(n_blocks: int) -> dict[int, tuple[float, float]]:
    """Where each node stands: the two cell inputs on the left (c[k-2] above, c[k-1] below), the
    blocks on one row left to right, the output on the right."""
    spots = {0: (0.0, 0.9), 1: (0.0, -0.9)}
    for j in range(n_blocks):
        spots[2 + j] = (1.0 + j, 0.0)
    spots[-1] = (1.0 + n_blocks, 0.0)
    return spots


def _bend(start: tuple[float, float], end: tuple[float, float], above: bool) -> float:
    """``arc3`` curvature: none between neighbours; otherwise an arc that clears the blocks between,
    above or below the row (for a left-to-right arrow, a negative rad bows up)."""
    if end[0] - start[0] <= 1.01:
        return 0.0
    return -0.35 if above else 0.35


def _node(ax, xy: tuple[float, float], text: str, color: str):
    """A labelled box; returns its box (arrows end at its edge)."""
    label = ax.text(*xy, text, ha="center", va="center", fontsize=9, zorder=3,
                    bbox={"boxstyle": "round,pad=0.4", "facecolor": color, "edgecolor": "0.3"})
    return label.get_bbox_patch()


def _arrow(ax, start, end, boxes, above: bool, color: str = "0.15", width: float = 1.2) -> None:
    """An arrow between two nodes (``start``, ``end``: positions; ``boxes``: their boxes), arcing
    ``above`` or below the row of blocks when it skips some."""
    bend = _bend(start, end, above)
    ax.annotate("", xy=end, xytext=start, zorder=2,
                arrowprops={"arrowstyle": "-|>,head_length=0.6,head_width=0.3", "color": color, "lw": width,
                            "patchA": boxes[0], "patchB": boxes[1], "shrinkA": 2, "shrinkB": 2,
                            "connectionstyle": f"arc3,rad={bend}"})


def draw_cell(ax, arch: Architecture, cell: str) -> None:
    """One cell of ``arch`` on ``ax``: inputs, blocks (inputs summed, then ops), output."""
    blocks = arch.cell(cell)
    spots = _positions(len(blocks))
    boxes = {0: _node(ax, spots[0], "c[k-2]\n(input 0)", "#dddddd"),
             1: _node(ax, spots[1], "c[k-1]\n(input 1)", "#dddddd"),
             -1: _node(ax, spots[-1], "c[k]: concat\nof all blocks,\n1x1 conv", "#ffe8b0")}
    for j, block in enumerate(blocks):
        ops = " + ".join(OP_CODES.get(op, op) for op in block.ops)
        boxes[2 + j] = _node(ax, spots[2 + j], f"block {j} (input {2 + j})\n{ops}", "#cfe2ff")
    for j, block in enumerate(blocks):
        for i in block.inputs:  # c[k-1] (input 1) arcs below the row, everything else above
            _arrow(ax, spots[i], spots[2 + j], (boxes[i], boxes[2 + j]), above=i != 1)
        _arrow(ax, spots[2 + j], spots[-1], (boxes[2 + j], boxes[-1]), above=False, color="0.7", width=0.8)
    ax.set_xlim(-0.6, len(blocks) + 1.6)
    ax.set_ylim(-2.0, 1.6)  # room for the arcs below and above the row
    ax.set_title(TITLES.get(cell, cell), fontsize=10)
    ax.axis("off")


def plot_cells(arch: Architecture, path: Path) -> list[Path]:
    """Both cells of ``arch`` in one PNG, with the op codes in a legend line."""
    plt = pyplot()
    width = 2.0 * (len(arch.normal) + 2) + 1
    fig, axes = plt.subplots(len(CELL_TYPES) + 1, 1, figsize=(width, 3.8 * len(CELL_TYPES) + 0.5),
                             gridspec_kw={"height_ratios": [1] * len(CELL_TYPES) + [0.12]})
    for ax, cell in zip(axes, CELL_TYPES):
        draw_cell(ax, arch, cell)
    legend = "   ".join(f"{code} = {name}" for name, code in OP_CODES.items())
    axes[-1].text(0.5, 0.5, legend, ha="center", va="center", fontsize=8)
    axes[-1].axis("off")
    fig.suptitle(f"architecture {arch.id}: each block sums its inputs, applies its ops and adds them", fontsize=10)
    return save(fig, path)
