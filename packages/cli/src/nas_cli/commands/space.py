"""`nas space ...`: look at search spaces, sample and validate architectures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import torch
import typer
from rich.table import Table

from nas_cli._options import check_seed, read_arch
from nas_cli._ui import UserError, console, get_space_or_fail, user_errors
from nas_core import get_space, list_spaces

app = typer.Typer(help="Inspect search spaces; sample and validate architectures.", no_args_is_help=True)
MAX_COUNT = 100_000  # architectures sampled by one command

SpaceName = Annotated[str, typer.Argument(help="Search space name (see `nas space list`).")]


@app.command("list")
def list_() -> None:
    """List the registered search spaces with their sizes."""
    table = Table("space", "blocks/cell", "ops", "architectures")
    for name in list_spaces():
        space = get_space(name)
        table.add_row(name, str(space.num_blocks), str(len(space.ops)), f"{space.size():.3e}")
    console.print(table)


@app.command()
def show(name: SpaceName) -> None:
    """Show a search space: its choices per block and its exact size."""
    with user_errors():
        space = get_space_or_fail(name)
    console.print(f"[bold]{space.name}[/]: {space.num_blocks} choice blocks per cell, "
                  f"up to {space.max_inputs} inputs and {space.max_ops} ops per block, "
                  f"two cell types (normal, reduce), each with its own architecture")
    console.print(f"ops: {', '.join(space.ops)}")
    table = Table("block", "candidate inputs", "input choices", "op choices")
    for b in range(space.num_blocks):
        table.add_row(str(b), str(space.num_candidates(b)), str(len(space.input_choices(b))),
                      str(len(space.op_choices())))
    console.print(table)
    console.print(f"settings of one cell: {space.cell_size():,}")
    console.print(f"architectures (normal x reduce): {space.size():,} ≈ {space.size():.3e}")


@app.command()
def sample(
    name: SpaceName,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same architecture "
                                           "(0 to 2**63-1).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the architecture as JSON.")] = False,
    count: Annotated[int, typer.Option(min=1, help=f"How many architectures to sample (at most "
                                                   f"{MAX_COUNT:,}).")] = 1,
) -> None:
    """Sample architectures uniformly at random (one line each, or JSON with --json)."""
    with user_errors():
        space = get_space_or_fail(name)
        check_seed(seed)
        if count > MAX_COUNT:
            raise UserError(f"{count:,} architectures asked for", hint=f"give {{count}} up to {MAX_COUNT:,}")
    generator = torch.Generator().manual_seed(seed)
    archs = [space.sample(generator) for _ in range(count)]
    if as_json:
        data = [a.to_dict() for a in archs]
        typer.echo(json.dumps(data[0] if count == 1 else data, indent=2, sort_keys=True))
    else:
        for arch in archs:
            typer.echo(f"{arch.id}  {arch}")


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Architecture JSON (e.g. from `nas space sample --json`).")],
) -> None:
    """Check an architecture file against its search space: exit 0, or exit 2 with the reason."""
    with user_errors():
        arch = read_arch(file)
    typer.echo(f"ok: {arch.id}  {arch}")
