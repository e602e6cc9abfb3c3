"""Rich progress bars: one factory for every bar, and the trainers' progress callback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from nas_core.train import Callback
from nas_core.train import Progress as Report

from ._ui import console


def progress_bar(*status: ProgressColumn, elapsed: bool = False, remaining: bool | None = None) -> Progress:
    """Description, bar, done/total, then ``status`` columns (default: the task's ``status`` field),
    then the time: remaining by default; ``elapsed`` where the total may still grow; both with
    ``elapsed=True, remaining=True`` ("1:02 elapsed, ~3:10 left")."""
    status = status or (TextColumn("{task.fields[status]}"),)
    remaining = not elapsed if remaining is None else remaining
    clock = ElapsedAndLeft() if elapsed and remaining else TimeElapsedColumn() if elapsed else TimeRemainingColumn()
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), *status, clock,
                    console=console)


class ElapsedAndLeft(ProgressColumn):
    """``1:02 elapsed, ~3:10 left``: the time so far and rich's estimate of the rest (from the
    recent rate; ``?`` until there is one)."""

    def render(self, task: Task) -> Text:
        spent = task.finished_time if task.finished else task.elapsed
        left = "done" if task.finished else _clock(task.time_remaining, "~{} left", "? left")
        return Text(f"{_clock(spent, '{} elapsed', '-:--')}, {left}", style="progress.remaining")


def _clock(seconds: float | None, form: str, unknown: str) -> str:
    """``seconds`` as ``m:ss`` (``h:mm:ss`` from an hour) put into ``form``; ``unknown`` if None."""
    if seconds is None:
        return unknown
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return form.format(f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}")


class RichProgress(Callback):
    """A progress bar with step, epoch, loss, accuracy, images/s, extra figures (dropout) and ETA."""

    def __init__(self, title: str):
        self.title = title
        self.bar = progress_bar()
        self.task = None
        self.last: Report | None = None

    def on_start(self, info: dict) -> None:
        self.bar.start()
        self.task = self.bar.add_task(self.title, total=info["total_steps"],
                                      completed=info["start_step"], status="starting")
        if info["start_step"]:
            console.print(f"resuming at step {info['start_step']} from {info['out_dir']}")
        if info.get("world_size", 1) > 1:
            console.print(f"training on {info['world_size']} processes (torchrun)")
        for line in info.get("notes", ()):
            console.print(f"note: {line}")

    def on_progress(self, p: Report) -> None:
        self.last = p
        extra = "".join(f" {k} {v:.3f}" for k, v in p.extra.items())
        status = (f"epoch {p.epoch:.2f} loss {p.loss:.3f} acc {p.accuracy:.3f} "
                  f"{p.images_per_s:,.0f} img/s{extra}")
        self.bar.update(self.task, completed=p.step, status=status)

    def on_end(self, summary: dict) -> None:
        self.bar.stop()

    def stop(self) -> None:
        """Stop drawing (also on errors), so messages print below the bar."""
        if self.bar.live.is_started:
            self.bar.stop()


@contextmanager
def training_progress(title: str) -> Iterator[RichProgress]:
    """A trainer's progress bar that is stopped however the training ends."""
    bar = RichProgress(title)
    try:
        yield bar
    finally:
        bar.stop()
