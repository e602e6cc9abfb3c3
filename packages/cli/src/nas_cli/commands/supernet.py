"""`nas supernet train`: train the one-shot model (Bender et al. 2018, Sec. 3.2)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from nas_cli import _options as o
from nas_cli._lock import run_lock
from nas_cli._progress import RichProgress, training_progress
from nas_cli._ui import console, get_space_or_fail, make_config, note, print_config, summary_table, user_errors
from nas_core.train import SupernetConfig, latest_checkpoint, train_supernet

app = typer.Typer(help="Train the one-shot model (the weight-sharing supernet).", no_args_is_help=True)


@app.command()
def train(
    out: o.Out,
    dataset: o.Dataset = "fashion-mnist",
    data_dir: o.DataDir = None,
    subset: o.Subset = None,
    val_fraction: o.ValFraction = 0.1,
    image_size: o.ImageSize = None,
    space: Annotated[str, typer.Option(help="Search space (see `nas space list`).")] = "bender2018",
    epochs: o.Epochs = 10.0,
    steps: o.Steps = None,
    batch_size: o.BatchSize = 128,
    ghost_batch: Annotated[int, typer.Option(min=1, help="Examples per ghost batch (own dropout "
                                             "masks and batch-norm statistics).")] = 32,
    dropout_rate: Annotated[float, typer.Option(min=0.0, max=0.99, help="r: final probability that "
                                                "all paths into a node are dropped.")] = 0.1,
    dropout_ramp: Annotated[float, typer.Option(min=0.0, max=1.0, help="Part of training over "
                                                "which the dropout rate ramps up to r, then stays (1: the "
                                                "paper's ramp over all of it).")] = 1.0,
    ema_decay: Annotated[float, typer.Option(min=0.0, max=1.0, help="Keep a moving average of "
                                             "the weights with this decay, for `nas correlate --ema` (0: "
                                             "none).")] = 0.0,
    lr: o.Lr = 0.1,
    weight_decay: o.WeightDecay = 1e-4,
    width: o.Width = 16,
    cells_per_stack: o.CellsPerStack = 2,
    seed: o.Seed = 0,
    device: o.Device = "auto",
    checkpoint_every: o.CheckpointEvery = 200,
    resume: o.Resume = False,
    show_config: o.ShowConfig = False,
) -> None:
    """Train the one-shot model on the train split; the val split stays held out for scoring."""
    with user_errors():
        config = make_config(
            SupernetConfig,
            space=space, epochs=epochs, steps=steps, batch_size=batch_size, ghost_batch=ghost_batch,
            dropout_rate=dropout_rate, dropout_ramp=dropout_ramp, ema_decay=ema_decay, lr=lr,
            weight_decay=weight_decay, width=width, cells_per_stack=cells_per_stack, seed=seed, device=device,
            checkpoint_every=checkpoint_every)
        if show_config:
            print_config(config)
            return
        get_space_or_fail(space)
        o.check_options(config, image_size)
        data = o.data_spec(dataset, data_dir, subset, seed, val_fraction, image_size)
        with run_lock(out, "nas supernet train"):
            train_split = data.load("train", note)
            o.check_steps(config, len(train_split))
            record = o.RunRecord(out, "supernet train", config, {"data": asdict(data)})
            console.print(f"one-shot model of [bold]{space}[/] on {train_split!r}")
            with training_progress("supernet") as progress:
                train_supernet(config, train_split, out, resume=resume, callbacks=[record, progress])
    _summary(out, progress)


def _summary(out, progress: RichProgress) -> None:
    table = summary_table("one-shot model trained")
    last = progress.last
    if last is not None:
        table.add_row("steps", f"{last.step:,}")
        table.add_row("final train loss / acc", f"{last.loss:.4f} / {last.accuracy:.4f}")
        table.add_row("final dropout rate", f"{last.extra.get('dropout', 0):.3f}")
    table.add_row("checkpoint", str(latest_checkpoint(out)))
    console.print(table)
