"""Console output and the one-line error convention shared by every command.

The library raises :class:`~nas_core.errors.InputError` with advice that names its *arguments*
(``{batch_size}``, ``{data_dir=DIR}``); :func:`user_errors` prints it with our *flags*
(``--batch-size``, ``--data-dir DIR``) on one line and exits with code 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from nas_core import get_space
from nas_core.errors import InputError
from nas_core.train import TrainingDiverged

console = Console()
err_console = Console(stderr=True)

# Library arguments whose flag is not simply --<name with dashes>.
FLAGS = {"out_dir": "--out", "top_k": "--top", "image_size": "--image-size"}


class UserError(InputError):
    """A mistake the user can fix: printed as one line, exit code 2, no traceback."""


def flag(argument: str, value: str | None = None) -> str:
    """How the CLI names a library argument in advice: ``data_dir=DIR`` -> ``--data-dir DIR``."""
    name = FLAGS.get(argument, "--" + argument.replace("_", "-"))
    if value is None or value == "True":
        return name
    return f"{name} {value.strip(chr(39) + chr(34))}"


def note(message: str) -> None:
    """A dim line of information (data read, steps skipped, ...)."""
    console.print(f"[dim]{escape(message)}[/]", highlight=False)


def error(label: str, message: str, code: int) -> typer.Exit:
    """Print ``label: message`` in red on stderr; returns the exit to raise."""
    err_console.print(f"[bold red]{label}:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=code)


def fail(message: str) -> typer.Exit:
    """``error: message`` on stderr; returns the exit to raise (code 2)."""
    return error("error", message, 2)


def get_space_or_fail(name: str):
    """The registered search space ``name``, or a :class:`UserError` listing the known ones."""
    try:
        return get_space(name)
    except KeyError as e:
        raise UserError(e.args[0]) from None


def make_config(build, **options):
    """A config from the command's options (``build``: its class or factory); its checks become
    one-line user errors."""
    try:
        return build(**options)
    except InputError:
        raise
    except ValueError as e:
        raise UserError(str(e)) from None


def print_config(config) -> None:
    """``--show-config``: the resolved config as JSON on stdout."""
    typer.echo(json.dumps(config.to_dict(), indent=2, sort_keys=True))


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's user-facing errors into one-line messages: exit 2 (1 if training diverged)."""
    try:
        yield
    except InputError as e:
        raise fail(e.render(flag)) from None
    except TrainingDiverged as e:
        raise error("training stopped", str(e), 1) from None
