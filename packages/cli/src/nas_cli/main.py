"""The `nas` command: assembles the command groups (`nas --help` or `-h`, `nas --version`, shell
completion with `nas --install-completion`)."""

from __future__ import annotations

from typing import Annotated

import optuna
import typer

from nas_core import reuse_freed_memory
from nas_core.errors import InputError
from nas_core.run_info import versions
from nas_core.threads import apply_threads

from ._ui import OneLineUsage, console
from .commands import space, supernet
from .commands.correlate import ablate, correlate
from .commands.dashboard import dashboard
from .commands.export import export
from .commands.predict import predict
from .commands.run import run
from .commands.search import search
from .commands.train import train

app = typer.Typer(
    name="nas",
    cls=OneLineUsage,  # usage errors in one line, exit 2, as every other mistake
    help="One-shot neural architecture search (Bender et al., ICML 2018).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},  # every command: the context is inherited
)
VERSIONS = ("nas-cli", "nas-core", "nas-export", "torch")


def _print_version(value: bool) -> None:
    if value:
        found = versions()
        typer.echo(" ".join(f"{name} {found[name] or 'not installed'}" for name in VERSIONS))
        raise typer.Exit()


def _threads_changed(old: int, new: int, others: float) -> None:
    console.print(f"note: other processes take {others:.1f} CPU cores; torch now runs {new} thread(s) "
                  f"instead of {old} (--threads N fixes the count)")


def _threads(value: str) -> str:
    try:
        apply_threads(value, on_change=_threads_changed)
    except InputError as e:
        raise typer.BadParameter(e.message) from None
    return value


@app.callback()
def _setup(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the versions of nas-cli, nas-core, nas-export and torch, "
                                               "and exit.")] = False,
    threads: Annotated[str, typer.Option(
        "--threads", envvar="NAS_THREADS", callback=_threads, metavar="auto|N",
        help="CPU threads for torch. auto: the cores other processes leave free, checked every second, "
             "so that a busy neighbour cannot stall training ($OMP_NUM_THREADS if set). A number "
             "fixes it, for bitwise reproducible results. Before the command: nas --threads 2 run.")] = "auto",
) -> None:
    """One-shot neural architecture search (Bender et al., ICML 2018)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our progress bars say what happens
    reuse_freed_memory()  # glibc: 15-26% faster CPU scoring (nas_core/memory.py; NAS_DEFAULT_MALLOC=1: off)


app.command("run")(run)
app.command("search")(search)
app.add_typer(space.app, name="space")
app.add_typer(supernet.app, name="supernet")
app.command("train")(train)
app.command("dashboard")(dashboard)
app.command("export")(export)
app.command("predict")(predict)
app.command("correlate")(correlate)
app.add_typer(ablate, name="ablate")

if __name__ == "__main__":
    app()
