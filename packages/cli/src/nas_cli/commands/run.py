"""`nas run`: train the one-shot model, search, train the best, export, report — resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nas_cli import _options as o
from nas_cli._progress import RichProgress, progress_bar
from nas_cli._ui import console, get_space_or_fail, make_config, note, user_errors
from nas_cli.pipeline import PHASES, PROFILES, Pipeline, PipelineUI, run_config
from nas_cli.search import COSTS, SAMPLERS, open_storage


class RichPipelineUI(PipelineUI):
    def __init__(self):
        self.bars: list = []
        self.search_bar = None
        self.best = 0.0

    def phase(self, name: str, skipped: bool = False) -> None:
        self.stop()
        step = f"{PHASES.index(name) + 1}/{len(PHASES)} {name}"
        console.rule(f"[bold]{step}[/]" + (" [dim](done before, skipped)[/]" if skipped else ""))

    def note(self, message: str) -> None:
        note(message)

    def trainer(self, title: str) -> list:
        bar = RichProgress(title)
        self.bars.append(bar)
        return [bar]

    def trial(self, done: int, total: int, figures: dict) -> None:
        if self.search_bar is None:
            self.search_bar = progress_bar(elapsed=True)
            self.search_bar.start()
            self.task = self.search_bar.add_task("search", total=total, status="")
        acc = figures.get("one_shot_accuracy")
        if acc is not None:
            self.best = max(self.best, acc)
        self.search_bar.update(self.task, completed=done,
                               status=f"one-shot acc {acc:.3f} best {self.best:.3f}" if acc is not None else "")

    def stop(self) -> None:
        for bar in self.bars:
            bar.stop()
        self.bars = []
        if self.search_bar is not None:
            self.search_bar.stop()
            self.search_bar = None


def run(
    dataset: Annotated[str | None, typer.Option(help="Data set (default: the profile's; quick: "
                                                   "fashion-mnist).")] = None,
    profile: Annotated[str, typer.Option(help=f"Settings: {', '.join(PROFILES)} (quick: a CPU demo in "
                                         "minutes; paper: CIFAR-10 at the paper's scale, for a GPU).")] = "quick",
    sampler: Annotated[str, typer.Option(help="; ".join(f"{k}: {v.help}" for k, v in SAMPLERS.items()))] = "random",
    trials: Annotated[int | None, typer.Option(help="Architectures to score (default: the profile's).")] = None,
    top: Annotated[int | None, typer.Option("--top", help="Best architectures to train from scratch "
                                               "(default: the profile's).")] = None,
    cost: Annotated[str | None, typer.Option(help=f"Second objective, minimised: {', '.join(COSTS)} "
                                                "(nsga2/motpe default to params).")] = None,
    pick: Annotated[str, typer.Option(help="Which finalist is deployed: accuracy (best val accuracy), "
                                           "smallest-within:P% (fewest params within P points of the best), "
                                           "max-latency-ms:T (best val accuracy at most T ms).")] = "accuracy",
    out: Annotated[Path, typer.Option(help="Run directory (re-run the same command to resume).")] = Path("runs/latest"),
    data_dir: o.DataDir = None,
    space: Annotated[str | None, typer.Option(help="Search space (default: bender2018).")] = None,
    workers: Annotated[int, typer.Option(help="Search processes on this machine.")] = 1,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL (default: SQLite in the run "
                                                   "directory; PostgreSQL for many machines).")] = None,
    study: Annotated[str, typer.Option(help="Optuna study name in the storage.")] = "oneshot",
    seed: o.Seed = 0,
    device: o.Device = "auto",
) -> None:
    """Run the whole method: one-shot model -> search -> train the best -> ONNX -> report."""
    ui = RichPipelineUI()
    with user_errors():
        config = make_config(run_config, profile=profile, dataset=dataset,
                             data_dir=str(data_dir) if data_dir else None, space=space, sampler=sampler,
                             trials=trials, top_k=top, cost=cost, seed=seed, workers=workers, storage=storage,
                             study=study, device=device, pick=pick)
        get_space_or_fail(config.space)
        if storage:
            open_storage(storage)  # fail now, not after training the one-shot model
        console.print(f"[bold]nas run[/] {config.profile} profile: {config.data.dataset}, space {config.space}, "
                      f"{config.search.trials} trials ({config.search.sampler}), top {config.top_k} -> {out}")
        try:
            summary = Pipeline(out, config, ui).run()
        finally:
            ui.stop()
    _table(summary, out)


def _table(summary: dict, out: Path) -> None:
    best = summary["best"]
    table = Table("", "", title="nas run: best architecture")
    table.add_row("architecture", f"{best['arch_id']}  {best['arch_string']}")
    table.add_row("one-shot accuracy", f"{best['one_shot_accuracy']:.4f}")
    table.add_row("stand-alone val accuracy", f"{best['val_accuracy']:.4f}")
    if best["test_accuracy"] is not None:
        table.add_row("stand-alone test accuracy", f"{best['test_accuracy']:.4f}")
    table.add_row("params / FLOPs", f"{best['params']:,} / {best['flops']:,}")
    onnx = summary["onnx"]
    table.add_row("ONNX", onnx["path"] if onnx else "skipped (nas-export not installed)")
    table.add_row("seconds per phase", ", ".join(f"{k} {v:.0f}" for k, v in summary["seconds"].items() if v))
    table.add_row("report", str(out / "report.md"))
    console.print(table)
