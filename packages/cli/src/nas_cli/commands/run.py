"""`nas run`: train the one-shot model, search, train the best, export, report — resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nas_cli import _options as o
from nas_cli._lock import run_lock
from nas_cli._progress import RichProgress, progress_bar
from nas_cli._ui import UserError, console, get_space_or_fail, note, reading, rule, summary_table, user_errors
from nas_cli.pipeline import (
    PHASES,
    PROFILES,
    Pipeline,
    PipelineUI,
    clear_run_dir,
    data_caps,
    default_out,
    link_latest,
    load_run_config,
    run_name,
    to_toml,
)
from nas_cli.pipeline._outdir import check_run_dir, unlink_latest
from nas_cli.search import COSTS, SAMPLERS, open_storage
from nas_core.train import launched_by_torchrun


class RichPipelineUI(PipelineUI):
    note = staticmethod(note)  # the CLI's log itself: it also draws download bars (``note.progress``)

    def __init__(self):
        self.bars: list = []
        self.search_bar = None
        self.best = 0.0

    def phase(self, name: str, skipped: bool = False) -> None:
        self.stop()
        step = f"{PHASES.index(name) + 1}/{len(PHASES)} {name}"
        rule(f"[bold]{step}[/]" + (" [dim](done before, skipped)[/]" if skipped else ""))

    def trainer(self, title: str) -> list:
        bar = RichProgress(title)
        self.bars.append(bar)
        return [bar]

    def trial(self, done: int, total: int, figures: dict) -> None:
        if self.search_bar is None:  # from the trials done before, so the rate (and ETA) is this run's
            self.search_bar = progress_bar(elapsed=True, remaining=True)
            self.search_bar.start()
            self.task = self.search_bar.add_task("search", total=total, completed=done, status="")
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
    config_file: Annotated[Path | None, typer.Option("--config", dir_okay=False, help="A TOML file of settings "
                                                    "(tables data, supernet, search, standalone; "
                                                    "--show-config prints one).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", metavar="KEY=VALUE", help="Any setting, over the "
                                                  "file: --set supernet.dropout_rate=0.2 (repeatable; the "
                                                  "value is read as TOML).")] = None,
    show_config: Annotated[bool, typer.Option("--show-config", help="Print the resolved settings as TOML "
                                              "(save them, pass them back with --config) and exit.")] = False,
    profile: Annotated[str | None, typer.Option(help=f"Base settings: {', '.join(PROFILES)} (default quick, a "
                                                "CPU demo in minutes; paper: CIFAR-10 at the paper's scale, for "
                                                "a GPU).")] = None,
    dataset: Annotated[str | None, typer.Option(help="Data set (default: the profile's; quick: "
                                                   "fashion-mnist).")] = None,
    sampler: Annotated[str | None, typer.Option(help="; ".join(f"{k}: {v.help}" for k, v in SAMPLERS.items())
                                                + " (default: random).")] = None,
    trials: Annotated[int | None, typer.Option(help="Architectures to score (default: the profile's).")] = None,
    top: Annotated[int | None, typer.Option("--top", help="Best architectures to train from scratch "
                                               "(default: the profile's).")] = None,
    cost: Annotated[str | None, typer.Option(help=f"Second objective, minimised: {', '.join(COSTS)} "
                                                "(nsga2/motpe default to params).")] = None,
    pick: Annotated[str | None, typer.Option(help="Which finalist is deployed: accuracy (best val accuracy, "
                                                  "the default), smallest-within:P% (fewest params within P "
                                                  "points of the best), max-latency-ms:T (best val accuracy "
                                                  "at most T ms).")] = None,
    out: Annotated[Path | None, typer.Option(help="Run directory (default: a new runs/<dataset>-<profile>-<date>, "
                                                  "linked as runs/latest; re-run with the same --out to "
                                                  "resume).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Delete what the run directory holds and "
                                            "start afresh.")] = False,
    data_dir: o.DataDir = None,
    subset: Annotated[int | None, typer.Option(min=1, help="Use only N images of each split, classes balanced "
                                                  "(default: the profile's; quick: 5,000 / 1,000 / 1,000).")] = None,
    image_size: o.ImageSize = None,
    space: Annotated[str | None, typer.Option(help="Search space (default: bender2018).")] = None,
    supernet_epochs: Annotated[float | None, typer.Option(min=0.0, help="Epochs of the one-shot model "
                                                          "(default: the profile's).")] = None,
    standalone_epochs: Annotated[float | None, typer.Option(min=0.0, help="Epochs of each finalist "
                                                            "(default: the profile's).")] = None,
    width: Annotated[int | None, typer.Option(min=2, help="F, channels of the first stack, of the one-shot "
                                                 "model and the finalists (2 to 1024).")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Examples per step, one-shot model and "
                                                      "finalists (a multiple of --ghost-batch).")] = None,
    dropout_rate: Annotated[float | None, typer.Option(min=0.0, help="Path-dropout rate r of the "
                                                          "one-shot model (Sec. 3.2; quick: 0.1).")] = None,
    ghost_batch: Annotated[int | None, typer.Option(min=1, help="Examples per ghost batch: own dropout masks "
                                                       "and batch-norm statistics.")] = None,
    workers: Annotated[int | None, typer.Option(help="Search processes on this machine (default 1).")] = None,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL (default: SQLite in the run "
                                                   "directory; PostgreSQL for many machines).")] = None,
    study: Annotated[str | None, typer.Option(help="Optuna study name in the storage (default: the run "
                                                 "directory's name).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seeds weights, data split and order, augmentation, masks, "
                                                "the sampler (default 0; 0 to 2**63-1).")] = None,
    device: Annotated[str | None, typer.Option(help="auto (default), cpu, cuda or cuda:N.")] = None,
) -> None:
    """Run the whole method: one-shot model -> search -> train the best -> ONNX -> report.

    Settings, each layer over the one before: the profile, the --config file, --set, the named options."""
    options = {"dataset": dataset, "data_dir": str(data_dir) if data_dir else None, "subset": subset,
               "image_size": image_size, "space": space, "supernet_epochs": supernet_epochs,
               "dropout_rate": dropout_rate, "ghost_batch": ghost_batch, "width": width, "batch_size": batch_size,
               "sampler": sampler, "trials": trials, "cost": cost, "workers": workers, "storage": storage,
               "study": study, "standalone_epochs": standalone_epochs, "top_k": top, "pick": pick, "seed": seed,
               "device": device}
    ui = RichPipelineUI()
    with user_errors():
        if config_file is not None and config_file.exists() and not config_file.is_file():
            raise UserError(f"cannot read {config_file}: not a regular file")  # (a FIFO would never end)
        with reading(_sources(config_file, set_)):  # a file (or value) that cannot be read: one line
            config = load_run_config(config_file, set_ or (), profile=profile, **options)
        if show_config:
            typer.echo(to_toml(config), nl=False)
            return
        get_space_or_fail(config.space)
        o.check_device(config.supernet.device)
        if launched_by_torchrun() and (out is None or overwrite):
            raise UserError("under torchrun every process must find the same run folder",
                            hint="give {out} (a new folder, or an earlier run's) and no {overwrite}")
        run_dir = out or default_out(config)
        check_run_dir(run_dir, None if overwrite else config)  # before anything is written
        if config.search.storage:
            open_storage(config.search.storage)  # fail now, not after training the one-shot model
        try:
            with run_lock(run_dir, "nas run"):  # (under torchrun: the main rank's)
                summary = _run(run_dir, out is None, overwrite, ui, lambda name: load_run_config(
                    config_file, set_ or (), profile=profile, run_name=name, **options))
        finally:
            ui.stop()
    _table(summary, run_dir)


def _sources(config_file: Path | None, set_: list[str] | None) -> str:
    """Where the settings beyond the profile come from, for an error in reading them."""
    if config_file is None:
        return "a --set value"
    return f"{config_file}{' (or a --set value)' if set_ else ''}"


def _run(run_dir: Path, new: bool, overwrite: bool, ui: RichPipelineUI, settings) -> dict:
    """Start (or continue) the run in ``run_dir``, which this process holds; ``settings(run name)``
    gives the run's config."""
    if overwrite:
        clear_run_dir(run_dir)
    config = settings(run_name(run_dir))
    where, unlinked = str(run_dir), None
    if new:
        unlinked = link_latest(run_dir)
        where += f" ({run_dir.parent / 'latest'})" if unlinked is None else ""
    caps = data_caps(config.data)
    console.print(f"[bold]nas run[/] {config.profile} profile: {config.data.dataset}"
                  f"{f' (capped: {caps})' if caps else ''}, space {config.space}, {config.search.trials} "
                  f"trials ({config.search.sampler}), top {config.top_k} -> {where}")
    if unlinked:
        note(f"{unlinked}; resume this run with --out {run_dir}")
    try:
        return Pipeline(run_dir, config, ui).run()
    except BaseException:
        if new:
            unlink_latest(run_dir)  # a run refused before it wrote anything leaves no folder, nor a link to it
        raise


def _table(summary: dict, out: Path) -> None:
    best = summary["best"]
    table = summary_table("nas run: best architecture")
    table.add_row("architecture", f"{best['arch_id']}  {best['arch_string']}")
    table.add_row("one-shot accuracy", f"{best['one_shot_accuracy']:.4f}")
    table.add_row("stand-alone val accuracy", f"{best['val_accuracy']:.4f}")
    if best["test_accuracy"] is not None:
        table.add_row("stand-alone test accuracy", f"{best['test_accuracy']:.4f}")
    table.add_row("params / FLOPs", f"{best['params']:,} / {best['flops']:,}")
    onnx = summary["onnx"]
    table.add_row("ONNX", str(out / onnx["path"]) if onnx else "skipped (nas-export not installed)")
    seconds = summary["seconds"]
    table.add_row("seconds per phase", ", ".join(f"{p} {seconds[p]:.0f}" for p in PHASES if seconds.get(p)))
    table.add_row("report", str(out / "report.md"))
    console.print(table)
