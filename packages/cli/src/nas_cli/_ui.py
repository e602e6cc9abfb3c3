"""Console output and the one-line error convention shared by every command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True)


class UserError(Exception):
    """A mistake the user can fix: printed as one line, exit code 2, no traceback."""


def _user_error_types() -> tuple[type[BaseException], ...]:
    from nas_core import ArchitectureError
    from nas_core.data import DataError
    from nas_core.train import RunDirError

    from .search import StudyError

    return (UserError, ArchitectureError, DataError, RunDirError, StudyError)


def get_space_or_fail(name: str):
    """The registered search space ``name``, or a :class:`UserError` listing the known ones."""
    from nas_core import get_space

    try:
        return get_space(name)
    except KeyError as e:
        raise UserError(e.args[0]) from None


def make_config(cls, **options):
    """A training config from the command's options; its checks become one-line user errors."""
    try:
        return cls(**options)
    except ValueError as e:
        raise UserError(str(e)) from None


def print_config(config) -> None:
    """``--show-config``: the resolved config as JSON on stdout."""
    typer.echo(json.dumps(config.to_dict(), indent=2, sort_keys=True))


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise (code 2)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's user-facing errors into one-line messages with exit code 2."""
    from nas_core.train import TrainingDiverged

    try:
        yield
    except _user_error_types() as e:
        raise fail(str(e)) from None
    except TrainingDiverged as e:
        err_console.print(f"[bold red]training stopped:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
