"""`nas correlate` and `nas ablate dropout`: does one-shot accuracy rank architectures on your data?

Thin layers over :mod:`nas_cli.correlate` (Bender et al. 2018, Sec. 4-5).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nas_cli import _options as o
from nas_cli._lock import run_lock
from nas_cli._progress import progress_bar
from nas_cli._ui import UserError, console, make_config, note, user_errors
from nas_cli.correlate import (
    MAX_BOOTSTRAP,
    MAX_KL_EXAMPLES,
    MAX_POOL,
    MAX_SCORE_IMAGES,
    MAX_SEEDS,
    AblationUI,
    CorrelateConfig,
    OneShotModelSpec,
    run_ablation,
    run_correlation,
)
from nas_cli.pipeline import PROFILES, run_config
from nas_core.train import Callback
from nas_core.train.config import MAX_SEED

ablate = typer.Typer(help="Ablations of the one-shot model's training (Bender et al. 2018, Sec. 4.2).",
                     no_args_is_help=True)

Profile = Annotated[str, typer.Option(help=f"Data subsets and stand-alone training settings of a `nas run` "
                                      f"profile ({', '.join(PROFILES)}); the one-shot model must have "
                                      "been trained on the same data.")]
Archs = Annotated[int, typer.Option(min=3, max=MAX_POOL, help="M: architectures trained from scratch.")]
Pool = Annotated[int | None, typer.Option(min=3, max=MAX_POOL, help="Architectures scored by each one-shot model; the "
                                             "sample is drawn from them (default: max(100, M)).")]
Stratify = Annotated[bool, typer.Option("--stratify", help="Spread the sample evenly over the first one-shot "
                                        "model's accuracy range, as in the paper (default: uniform).")]
Seeds = Annotated[int, typer.Option(min=1, max=MAX_SEEDS, help="Stand-alone trainings per architecture (mean "
                                    "accuracy used).")]
Epochs = Annotated[float | None, typer.Option(min=0.0, help="Stand-alone epochs (default: the profile's).")]
StandaloneDir = Annotated[Path | None, typer.Option(help="Where stand-alone results live (default: "
                                                    "OUT/standalone); studies sharing it share trainings.")]
KlExamples = Annotated[int, typer.Option(min=1, max=MAX_KL_EXAMPLES, help="Training images for the KL analysis "
                                         "(Sec. 5).")]
Bootstrap = Annotated[int, typer.Option(min=10, max=MAX_BOOTSTRAP, help="Bootstrap resamples for the 95% "
                                        "intervals.")]
ScoreImages = Annotated[int | None, typer.Option(min=1, max=MAX_SCORE_IMAGES, help="Val images that score each "
                                                 "architecture inside a one-shot model, class-balanced "
                                                 "(default: the whole val split of the profile).")]
ScoreMode = Annotated[str, typer.Option(help="batch-stats: batch norm from each evaluation batch (the "
                                        "paper); recalibrate: re-estimated on training batches first.")]
Ema = Annotated[bool, typer.Option("--ema", help="Score with the moving average of the one-shot weights "
                                   "(`nas supernet train --ema-decay`).")]


class RichCorrelateUI(AblationUI):
    """One bar for scoring, one over the stand-alone trainings, one for the current training."""

    def __init__(self):
        self.bar = progress_bar(elapsed=True)
        self.tasks: dict[str, int] = {}

    def note(self, message: str) -> None:
        note(message)

    def _update(self, name: str, done: int, total: int, status: str = "") -> None:
        if not self.bar.live.is_started:
            self.bar.start()
        if name not in self.tasks:
            self.tasks[name] = self.bar.add_task(name, total=total, status="")
        self.bar.update(self.tasks[name], completed=done, total=total, status=status)

    def scoring(self, label: str, done: int, total: int) -> None:
        self._update(f"score pool ({label})", done, total)

    def training(self, done: int, total: int, title: str) -> list[Callback]:
        self._update("stand-alone trainings", done, total, title)
        return [_StepBar(self, "  current training")] if title else []

    def supernet(self, rate: float, seed: int) -> list[Callback]:
        return [_StepBar(self, f"one-shot model r={rate:g} seed {seed}")]

    def stop(self) -> None:
        if self.bar.live.is_started:
            self.bar.stop()


class _StepBar(Callback):
    def __init__(self, ui: RichCorrelateUI, name: str):
        self.ui, self.name = ui, name

    def on_start(self, info: dict) -> None:
        self.ui._update(self.name, info["start_step"], info["total_steps"])

    def on_progress(self, p) -> None:
        self.ui._update(self.name, p.step, p.total_steps, f"loss {p.loss:.3f} {p.images_per_s:,.0f} img/s")


def _settings(profile: str, dataset: str | None, data_dir: Path | None, seed: int, device: str,
              epochs: float | None, **correlate) -> tuple:
    """(run settings of the profile, stand-alone config, correlation config) from the options."""
    settings = make_config(run_config, profile=profile, dataset=dataset, data_dir=str(data_dir) if data_dir else None,
                           seed=seed, device=device)
    o.check_device(device)
    standalone = settings.standalone if epochs is None else replace(settings.standalone, epochs=epochs, steps=None)
    if correlate["pool"] is None:
        correlate["pool"] = max(100, correlate["archs"])
    return settings, standalone, make_config(CorrelateConfig, seed=seed, device=device, **correlate)


def correlate(
    supernet: Annotated[list[Path], typer.Option(help="A trained one-shot model's folder (`nas supernet "
                                                 "train --out`, or RUN/supernet); repeat to compare several.")],
    out: Annotated[Path, typer.Option(help="Output folder (re-run the same command to resume).")],
    archs: Archs = 24, pool: Pool = None, stratify: Stratify = False, seeds: Seeds = 1, epochs: Epochs = None,
    profile: Profile = "quick", dataset: Annotated[str | None, typer.Option(help="Data set (default: the "
                                                                            "profile's).")] = None,
    data_dir: o.DataDir = None, standalone_dir: StandaloneDir = None, kl_examples: KlExamples = 500,
    bootstrap: Bootstrap = 1000, seed: Annotated[int, typer.Option(help="Seeds the data split, the pool, the "
                                                                   "stand-alone trainings, the bootstrap.")] = 0,
    device: o.Device = "auto", score_images: ScoreImages = None, score_mode: ScoreMode = "batch-stats",
    ema: Ema = False,
) -> None:
    """Train M sampled architectures from scratch; rank-correlate their one-shot and stand-alone accuracy.

    Stand-alone accuracy is measured on the whole val split of the profile (the `cpu` profile: 10,000
    CIFAR-10 images); one-shot scores on --score-images of them."""
    ui = RichCorrelateUI()
    with user_errors():
        settings, standalone, config = _settings(profile, dataset, data_dir, seed, device, epochs, archs=archs,
                                                 pool=pool, stratify=stratify, seeds=seeds,
                                                 kl_examples=kl_examples, bootstrap=bootstrap,
                                                 score_images=score_images, score_mode=score_mode, ema=ema)
        for folder in supernet:
            if not folder.is_dir():
                raise UserError(f"--supernet {folder}: no such folder")
        specs = [OneShotModelSpec(str(s), str(s)) for s in supernet]
        try:
            with run_lock(out, "nas correlate"):
                report = run_correlation(out, specs, settings.data, standalone, config,
                                         standalone_dir=standalone_dir, ui=ui)
        finally:
            ui.stop()
    _table(report, out)


@ablate.command()
def dropout(
    out: Annotated[Path, typer.Option(help="Output folder (re-run the same command to resume).")],
    rates: Annotated[str, typer.Option(help="Final path-dropout rates r, comma-separated (0: no path "
                                       "dropout).")] = "0,0.1,0.25,0.5",
    model_seeds: Annotated[str, typer.Option(help="Seeds of the one-shot models, comma-separated: one model "
                                             "per rate and seed.")] = "0",
    archs: Archs = 24, pool: Pool = None, stratify: Stratify = False, seeds: Seeds = 1, epochs: Epochs = None,
    profile: Annotated[str, typer.Option(help=f"Settings of a `nas run` profile ({', '.join(PROFILES)}): "
                                         "data, one-shot model (all but r), stand-alone training.")] = "quick",
    dataset: Annotated[str | None, typer.Option(help="Data set (default: the profile's).")] = None,
    data_dir: o.DataDir = None, standalone_dir: StandaloneDir = None, kl_examples: KlExamples = 500,
    bootstrap: Bootstrap = 1000, seed: Annotated[int, typer.Option(help="Seeds the data split, the pool, "
                                                                   "the stand-alone trainings.")] = 0,
    device: o.Device = "auto", score_images: ScoreImages = None, score_mode: ScoreMode = "batch-stats",
) -> None:
    """Train a one-shot model per dropout rate (Sec. 4.2); compare how well each ranks architectures.

    With one rate and several --model-seeds it measures how much retraining the same one-shot model
    moves its ranking: the data split stays the same, the seed changes weights, data order and masks."""
    ui = RichCorrelateUI()
    with user_errors():
        settings, standalone, config = _settings(profile, dataset, data_dir, seed, device, epochs,
                                                 archs=archs, pool=pool, stratify=stratify, seeds=seeds,
                                                 kl_examples=kl_examples, bootstrap=bootstrap,
                                                 score_images=score_images, score_mode=score_mode)
        try:
            rate_list = [float(r) for r in rates.split(",")]
            seed_list = [int(s) for s in model_seeds.split(",")]
        except ValueError:
            raise UserError(f"--rates and --model-seeds take comma-separated numbers, got {rates!r} and "
                            f"{model_seeds!r}") from None
        if not all(0 <= model_seed <= MAX_SEED for model_seed in seed_list):
            raise UserError(f"model seeds {model_seeds} do not all fit torch's 64-bit seeds",
                            hint=f"give {{model_seeds}} from 0 to {MAX_SEED}")
        try:
            with run_lock(out, "nas ablate dropout"):
                ablation = run_ablation(out, rate_list, settings.supernet, settings.data, standalone, config,
                                        model_seeds=seed_list, standalone_dir=standalone_dir, ui=ui)
        finally:
            ui.stop()
    report = json.loads((out / "correlation.json").read_text())
    _table(report, out)
    table = Table("r", "seeds", "mean tau", "mean rho", "one-shot std", "top-1 stand-alone",
                  title="path-dropout ablation (means over model seeds)")
    for row in ablation["by_rate"]:
        table.add_row(f"{row['dropout_rate']:g}", str(row["model_seeds"]), f"{row['kendall_tau']:.3f}",
                      f"{row['spearman_rho']:.3f}", f"{row['one_shot_std']:.4f}",
                      f"{row['top1_standalone_accuracy']:.4f}")
    console.print(table)
    console.print(f"written: {out / 'ablation.json'}")


def _interval(e: dict) -> str:
    return f"{e['value']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"


def _table(report: dict, out: Path) -> None:
    table = Table("one-shot model", "Kendall tau", "Spearman rho", "top-k precision", "KL tau",
                  "top-1 stand-alone (pct)", title=f"one-shot vs stand-alone, {len(report['archs'])} architectures")
    for m in report["models"]:
        c, top = m["one_shot_vs_standalone"], m["top1"]
        table.add_row(m["label"], _interval(c["kendall_tau"]), _interval(c["spearman_rho"]),
                      _interval(c["top_k_precision"]), _interval(m["kl_vs_standalone"]["kendall_tau"]),
                      f"{top['standalone_accuracy']:.4f} ({top['percentile']:.0f}%)")
    console.print(table)
    console.print(f"written: {out / 'correlation.json'}" + (", plots in " + str(out / "plots")
                                                             if report.get("plots") else ""))
