"""Rich progress bars: one factory for every bar, and the trainers' progress callback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from nas_core.train import Callback
from nas_core.train import Progress as Report

from ._ui import console


def progress_bar(*status: ProgressColumn, elapsed: bool = False) -> Progress:
    """Description, bar, done/total, then ``status`` columns (default: the task's ``status`` field),
    then time remaining (or elapsed, where the total may still grow)."""
    status = status or (TextColumn("{task.fields[status]}"),)
    clock = TimeElapsedColumn() if elapsed else TimeRemainingColumn()
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), *status, clock,
                    console=console)


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
