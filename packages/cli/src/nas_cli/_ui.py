"""Console output and the one-line error convention shared by every command.

The library raises :class:`~nas_core.errors.InputError` with advice that names its *arguments*
(``{batch_size}``, ``{data_dir=DIR}``); :func:`user_errors` prints it with our *flags*
(``--batch-size``, ``--data-dir DIR``) on one line and exits with code 2; Ctrl+C says how to
resume and exits with code 130.

:func:`user_errors` is the one error boundary of every command. Commands check their options and
input files before they write anything (a refused command leaves no file behind), and
:func:`reading` names the file in what goes wrong while one is read. What still reaches the
boundary is sorted by kind:

- a user's mistake, :class:`InputError`: one line, exit 2;
- what the machine or the input refuses, whose fix is the user's (``OSError``: a path that is a
  file, a folder that cannot be written, a full disk; ``UnicodeDecodeError``, ``RecursionError``,
  ``OverflowError``: text that is not UTF-8, nesting or a number too large to read; running out of
  memory): one line, exit 2;
- anything else is a bug in oneshot-nas: its traceback is kept (Python's, exit 1) with one line
  under it asking for a report. ``NAS_TRACEBACK=1`` keeps the traceback of every error.

Mistakes click finds while it parses the command line (an unknown option, a value of the wrong
type or below an option's ``min=``) are one such line too, with exit 2 (:class:`OneLineUsage`,
the class of the `nas` group), instead of Typer's boxed panel.

Output to a file or a CI log is not cut at 80 columns (rich's width where there is no terminal):
the consoles are :data:`WIDE` there, and as wide as the terminal on one.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
import typer
from rich import filesize
from rich.console import Console, ConsoleDimensions
from rich.errors import LiveError
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.rule import Rule
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from nas_core import get_space
from nas_core.errors import InputError
from nas_core.train import TrainingDiverged, planned_world

from ._text import printable

WIDE = 1000  # columns when the output is not a terminal: long lines stay whole in files and CI logs
RULE_WIDTH = 80  # columns of a section rule when the output is not a terminal
RESUME = "re-run the same command to continue (checkpoints are kept)"
BUG = "this is a bug in oneshot-nas: please report it with the traceback above"
OUT_OF_MEMORY = (MemoryError, torch.cuda.OutOfMemoryError)  # (torch.OutOfMemoryError from torch 2.5)


class _Console(Console):
    """rich's Console, :data:`WIDE` when its output is not a terminal (where rich would take 80
    columns) unless ``$COLUMNS`` says otherwise; on a terminal, the terminal's width."""

    @property
    def size(self) -> ConsoleDimensions:
        size = Console.size.fget(self)
        if self.is_terminal or os.environ.get("COLUMNS", "").isdigit():
            return size
        return ConsoleDimensions(WIDE, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)


# Under torchrun only rank 0 talks (errors still come from every rank).
console = _Console(quiet=not planned_world().main)
err_console = _Console(stderr=True)

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


class Notes:
    """:data:`note`, the ``log`` the commands give the library: ``note(message)`` prints a dim line
    of information (data read, steps skipped, ...); ``note.progress(done, total)``, which
    ``load_data`` finds on its ``log``, draws a download's bar with its size and rate."""

    def __init__(self):
        self.bar: Progress | None = None

    def __call__(self, message: str) -> None:
        console.print(f"[dim]{escape(printable(message))}[/]", highlight=False)  # names from files

    def progress(self, done: int, total: int | None) -> None:
        """Bytes of the file being downloaded (``nas_core.data.DownloadProgress``)."""
        if done == 0 or self.bar is None:
            self._start()
        if self.bar is not None:
            self.bar.update(self.bar.task_ids[0], completed=done, total=total)
            if total is not None and done >= total:
                self.stop()

    def stop(self) -> None:
        """Stop drawing the bar (a download that ended or failed)."""
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def _start(self) -> None:
        self.stop()
        bar = Progress(TextColumn("[bold]download"), BarColumn(), DownloadColumn(), _Rate(), TimeRemainingColumn(),
                       console=console)
        bar.add_task("download", total=None)
        try:
            bar.start()
        except LiveError:  # another bar is drawn (rich < 14 draws one at a time): the notes say it
            return
        self.bar = bar


class _Rate(ProgressColumn):
    """Bytes per second: rich's recent rate, else the average (a small file comes in one chunk)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed or (task.completed / task.elapsed if task.elapsed else None)
        return Text("?" if speed is None else f"{filesize.decimal(int(speed))}/s", style="progress.data.speed")


note = Notes()


def summary_table(title: str) -> Table:
    """A two-column table of named figures (no header row); long values (an architecture, a
    path) are folded where the terminal is narrow, never cut."""
    table = Table(show_header=False, title=title)
    table.add_column()
    table.add_column(overflow="fold")
    return table


def rule(title: str) -> None:
    """A section line: as wide as the terminal, :data:`RULE_WIDTH` in a file or log."""
    console.print(Rule(title), width=None if console.is_terminal else RULE_WIDTH)


def error(label: str, message: str, code: int) -> typer.Exit:
    """Print ``label: message`` in red on stderr; returns the exit to raise."""
    err_console.print(f"[bold red]{label}:[/] {escape(printable(message))}", highlight=False, soft_wrap=True)
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
        config = build(**options)
    except InputError:
        raise
    except ValueError as e:
        raise UserError(str(e)) from None
    if hasattr(config, "check_world"):  # under torchrun: refuse a batch the processes cannot share
        config.check_world(planned_world().size)
    return config


def print_config(config) -> None:
    """``--show-config``: the resolved config as JSON on stdout."""
    typer.echo(json.dumps(config.to_dict(), indent=2, sort_keys=True))


@contextmanager
def user_errors() -> Iterator[None]:
    """The error boundary of a command (see the module's docstring): user errors are one line and
    exit 2 (1 if training diverged); Ctrl+C prints how to resume and exits 130; a bug keeps its
    traceback, with a line asking for a report. Progress bars are stopped by the callers' ``finally``."""
    try:
        try:
            yield
        finally:
            note.stop()  # a download's bar, so that the message prints below it
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        raise error("interrupted", RESUME, 130) from None
    except Exception as e:
        if os.environ.get("NAS_TRACEBACK"):
            raise
        if isinstance(e, TrainingDiverged):
            raise error("training stopped", str(e), 1) from None
        message = user_message(e)
        if message is None:
            _mark_as_bug(e)
            raise
        raise fail(message) from None


def user_message(e: Exception) -> str | None:
    """The one line that tells the user what went wrong, or None for a bug."""
    if isinstance(e, InputError):
        return e.render(flag)
    if isinstance(e, OSError):
        return os_message(e)
    if isinstance(e, UnicodeDecodeError):
        return f"cannot read text: byte {e.object[e.start:e.start + 1].hex()} at position {e.start} is not UTF-8"
    if isinstance(e, RecursionError):
        return "the input is nested too deeply to be read"
    if isinstance(e, OverflowError):
        return f"a number is too large: {first_line(e)}"
    if isinstance(e, OUT_OF_MEMORY):
        return f"out of memory ({first_line(e) or type(e).__name__}): lower --batch-size, --width or --image-size"
    return None


def os_message(e: OSError) -> str:
    """``cannot use /dev/null/x: Not a directory``: the path and the system's reason."""
    reason = e.strerror or first_line(e) or type(e).__name__
    if e.filename is None:
        return reason
    paths = f"{e.filename} -> {e.filename2}" if e.filename2 is not None else str(e.filename)
    return f"cannot use {paths}: {reason}"


def first_line(e: BaseException) -> str:
    return next(iter(str(e).splitlines()), "")


def _mark_as_bug(e: Exception) -> None:
    """Ask for a report under the traceback Python prints (before it, where notes do not exist)."""
    if BUG in getattr(e, "__notes__", ()):  # (an inner boundary said it)
        return
    if hasattr(e, "add_note"):  # Python 3.11+
        e.add_note(BUG)
    else:
        print(BUG.replace("above", "below"), file=sys.stderr)


# click's UsageError: Typer (which vendors click from 0.2x) exports only its subclass BadParameter.
UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


class OneLineUsage(TyperGroup):
    """The `nas` group: a usage error of any command below it (click's, raised while the command
    line is parsed) is one ``error:`` line naming the command's help, with exit 2."""

    def make_context(self, *args, **kwargs):
        with _usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx):
        with _usage_errors():
            return super().invoke(ctx)


@contextmanager
def _usage_errors() -> Iterator[None]:
    try:
        yield
    except UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # a bare `nas space`: Typer shows the help
            raise
        ctx = getattr(e, "ctx", None)
        where = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        raise fail(e.format_message() + where) from None  # (printable: a value's newline stays on the line)


@contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """Errors of reading the user's file ``path`` (and parsing it) as one line that names it:
    unreadable, not UTF-8, nested too deeply or a number too long for Python to read."""
    try:
        yield
    except InputError:
        raise
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or first_line(e)}") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{path} is not UTF-8 text (byte {e.object[e.start:e.start + 1].hex()} at position "
                        f"{e.start})") from None
    except RecursionError:
        raise UserError(f"{path} is nested too deeply to be read") from None
    except ValueError as e:  # a parser's error (json's, the limit on the digits of an integer, ...)
        raise UserError(f"{path} cannot be read: {first_line(e).split('; use sys.')[0]}") from None
