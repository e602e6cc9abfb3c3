"""Option types shared by the training commands (Typer ``Annotated`` style), and what turns them
into library values."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nas_core.data import DataSpec
from nas_core.run_info import write_run_info
from nas_core.train import planned_world

Dataset = Annotated[str, typer.Option(help="Data set: fashion-mnist (default), cifar10, cifar100, folder, "
                                      "synthetic.")]
DataDir = Annotated[Path | None, typer.Option(resolve_path=True,  # recorded absolute: same data either way
                                              help="Where the data set's files are (else the cache, "
                                                   "then system locations, then a download).")]
Subset = Annotated[int | None, typer.Option(min=1, help="Use only N examples of each split, classes "
                                               "balanced (quick runs).")]
ValFraction = Annotated[float, typer.Option(min=0.0, max=0.9, help="Part of the training files held out "
                                            "as the validation split (CIFAR-10: fixed 45k/5k).")]
ImageSize = Annotated[int | None, typer.Option(min=8, help="Resize images to this size in pixels "
                                                  "(folder data sets: default 32).")]
Out = Annotated[Path, typer.Option(help="Run directory: checkpoints, metrics, results.")]
Epochs = Annotated[float, typer.Option(min=0.0, help="Passes over the training split.")]
Steps = Annotated[int | None, typer.Option(min=1, help="Optimizer steps in total (overrides --epochs).")]
BatchSize = Annotated[int, typer.Option(min=1, help="Examples per step.")]
Lr = Annotated[float, typer.Option(min=0.0, help="Learning rate per 256 examples (scaled with the batch).")]
WeightDecay = Annotated[float, typer.Option(min=0.0, help="L2 coefficient.")]
Width = Annotated[int, typer.Option(min=2, help="F: channels of the first stack (doubled per reduction).")]
CellsPerStack = Annotated[int, typer.Option(min=1, help="Normal cells per stack (3 stacks).")]
Seed = Annotated[int, typer.Option(help="Seeds weights, data split and order, augmentation, masks.")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue the run in --out where it stopped.")]
ShowConfig = Annotated[bool, typer.Option("--show-config", help="Print the resolved config and exit.")]
CheckpointEvery = Annotated[int, typer.Option(min=1, help="Steps between checkpoints.")]


def data_spec(dataset: str, data_dir: Path | None, subset: int | None, seed: int, val_fraction: float = 0.1,
              image_size: int | None = None) -> DataSpec:
    """The data options of a training command as the library's :class:`~nas_core.data.DataSpec`."""
    return DataSpec.with_subset(subset, dataset=dataset, data_dir=str(data_dir) if data_dir else None, seed=seed,
                                val_fraction=val_fraction, image_size=image_size)


def record_run(out: Path, command: str, config, extra: dict) -> None:
    """Create the run directory and write ``<command>.run.json`` (config, versions, git revision);
    under torchrun, rank 0 alone writes."""
    if not planned_world().main:
        return
    out.mkdir(parents=True, exist_ok=True)
    write_run_info(out / f"{command.replace(' ', '_')}.run.json", config.to_dict(),
                   {"command": f"nas {command}", **extra})
