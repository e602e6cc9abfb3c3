"""The `nas` command: assembles the command groups (`nas --help`)."""

from __future__ import annotations

import typer

from .commands import space, supernet
from .commands.train import train

app = typer.Typer(
    name="nas",
    help="One-shot neural architecture search (Bender et al., ICML 2018).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(space.app, name="space")
app.add_typer(supernet.app, name="supernet")
app.command("train")(train)

if __name__ == "__main__":
    app()
