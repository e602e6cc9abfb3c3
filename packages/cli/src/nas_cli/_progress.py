"""Rich rendering of the trainers' progress callbacks."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from nas_core.train import Callback
from nas_core.train import Progress as Report

from ._ui import console


class RichProgress(Callback):
    """A progress bar with step, epoch, loss, accuracy, images/s, extra figures (dropout) and ETA."""

    def __init__(self, title: str):
        self.title = title
        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"), TimeRemainingColumn(), console=console,
            transient=False,
        )
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
