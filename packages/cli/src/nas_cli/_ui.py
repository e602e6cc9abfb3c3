"""Console output and the one-line error convention shared by every command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


class UserError(Exception):
    """A mistake the user can fix: printed as one line, exit code 2, no traceback."""


def _user_error_types() -> tuple[type[BaseException], ...]:
    from nas_core import ArchitectureError

    types: list[type[BaseException]] = [UserError, ArchitectureError]
    try:
        from nas_core.data import DataError

        types.append(DataError)
    except ImportError:  # the data module is optional for the space commands
        pass
    return tuple(types)


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise (code 2)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's user-facing errors into one-line messages with exit code 2."""
    try:
        yield
    except _user_error_types() as e:
        raise fail(str(e)) from None
