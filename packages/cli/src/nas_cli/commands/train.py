"""`nas train`: train one architecture from scratch (stand-alone, Bender et al. 2018, Sec. 4)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from nas_cli import _options as o
from nas_cli._lock import run_lock
from nas_cli._progress import training_progress
from nas_cli._ui import console, make_config, note, print_config, summary_table, user_errors
from nas_core.train import StandaloneConfig, train_standalone


def train(
    arch: Annotated[Path, typer.Option(help="Architecture JSON (e.g. `nas space sample --json`).")],
    out: o.Out,
    dataset: o.Dataset = "fashion-mnist",
    data_dir: o.DataDir = None,
    subset: o.Subset = None,
    val_fraction: o.ValFraction = 0.1,
    image_size: o.ImageSize = None,
    epochs: o.Epochs = 20.0,
    steps: o.Steps = None,
    batch_size: o.BatchSize = 128,
    lr: o.Lr = 0.1,
    weight_decay: o.WeightDecay = 3e-4,
    cutout: Annotated[int, typer.Option(min=0, help="Cutout square side in pixels (0: off).")] = 0,
    drop_path: Annotated[float, typer.Option(min=0.0, max=0.9, help="Final drop-path probability, "
                                             "rising linearly from 0.")] = 0.0,
    label_smoothing: Annotated[float, typer.Option(min=0.0, max=0.5, help="Label smoothing.")] = 0.0,
    width: o.Width = 16,
    cells_per_stack: o.CellsPerStack = 2,
    seed: o.Seed = 0,
    device: o.Device = "auto",
    checkpoint_every: o.CheckpointEvery = 200,
    sync_bn: Annotated[bool, typer.Option("--sync-bn", help="Under torchrun: batch-norm statistics over "
                                          "the global batch (CUDA only; default: per process).")] = False,
    resume: o.Resume = False,
    show_config: o.ShowConfig = False,
) -> None:
    """Train an architecture from scratch; report val (and test) accuracy; save weights + metrics."""
    with user_errors():
        config = make_config(
            StandaloneConfig,
            epochs=epochs, steps=steps, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
            cutout=cutout, drop_path=drop_path, label_smoothing=label_smoothing, width=width,
            cells_per_stack=cells_per_stack, seed=seed, device=device,
            checkpoint_every=checkpoint_every, sync_bn=sync_bn)
        if show_config:
            print_config(config)
            return
        architecture = o.read_arch(arch)
        o.check_options(config, image_size)
        data = o.data_spec(dataset, data_dir, subset, seed, val_fraction, image_size)
        with run_lock(out, "nas train"):
            train_split, val = data.load("train", note), data.load("val", note)
            test = data.load_test(note)
            o.check_steps(config, len(train_split))
            record = o.RunRecord(out, "train", config, {"arch": architecture.to_dict(), "data": asdict(data)})
            console.print(f"training [bold]{architecture.id}[/] {architecture} on {train_split!r}")
            with training_progress("train") as progress:
                result = train_standalone(architecture, config, train_split, val, out, test=test, resume=resume,
                                          callbacks=[record, progress])
    _summary(result, out)


def _summary(result: dict, out: Path) -> None:
    table = summary_table(f"stand-alone {result['arch_id']}")
    table.add_row("val accuracy", f"{result['val']['accuracy']:.4f}")
    if result["test"] is not None:
        table.add_row("test accuracy", f"{result['test']['accuracy']:.4f}")
    table.add_row("params", f"{result['params']:,}")
    table.add_row("FLOPs / image", f"{result['flops']:,}")
    table.add_row("train time", f"{result['train_seconds']:.1f} s")
    table.add_row("saved in", str(out))
    console.print(table)
