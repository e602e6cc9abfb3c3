"""Option types shared by the training commands (Typer ``Annotated`` style), what turns them into
library values, and the checks a command makes before it writes anything: options whose bounds
depend on this machine or on the data (:func:`check_device`, :func:`check_steps`), input files
(:func:`read_arch`), and the run's record written only once the trainer has accepted its folder
(:class:`RunRecord`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import torch
import typer

from nas_cli._ui import UserError, get_space_or_fail, reading
from nas_cli.pipeline._config import IMAGE_SIZES, check_image_size
from nas_core import Architecture
from nas_core.data import DataSpec
from nas_core.errors import InputError
from nas_core.run_info import write_run_info
from nas_core.train import Callback, resolve_device
from nas_core.train.config import MAX_EPOCHS, MAX_SEED, MAX_STEPS, MAX_WIDTH

Dataset = Annotated[str, typer.Option(help="Data set: fashion-mnist (default), cifar10, cifar100, folder, "
                                      "synthetic.")]
DataDir = Annotated[Path | None, typer.Option(resolve_path=True,  # recorded absolute: same data either way
                                              help="Where the data set's files are (else the cache, "
                                                   "then system locations, then a download).")]
Subset = Annotated[int | None, typer.Option(min=1, help="Use only N examples of each split, classes "
                                               "balanced (quick runs).")]
ValFraction = Annotated[float, typer.Option(min=0.0, max=0.9, help="Part of the training files held out "
                                            "as the validation split (CIFAR-10: fixed 45k/5k).")]
ImageSize = Annotated[int | None, typer.Option(min=IMAGE_SIZES[0], help=f"Resize images to this size in pixels, "
                                                  f"{IMAGE_SIZES[0]} to {IMAGE_SIZES[1]} (folder data sets: "
                                                  "default 32).")]
Out = Annotated[Path, typer.Option(help="Run directory: checkpoints, metrics, results.")]
Epochs = Annotated[float, typer.Option(min=0.0, help=f"Passes over the training split (at most {MAX_EPOCHS:,}, "
                                       f"and {MAX_STEPS:,} steps).")]
Steps = Annotated[int | None, typer.Option(min=1, help=f"Optimizer steps in total, at most {MAX_STEPS:,} "
                                              "(overrides --epochs).")]
BatchSize = Annotated[int, typer.Option(min=1, help="Examples per step.")]
Lr = Annotated[float, typer.Option(min=0.0, help="Learning rate per 256 examples (scaled with the batch).")]
WeightDecay = Annotated[float, typer.Option(min=0.0, help="L2 coefficient.")]
Width = Annotated[int, typer.Option(min=2, help=f"F: channels of the first stack, 2 to {MAX_WIDTH} (doubled per "
                                   "reduction).")]
CellsPerStack = Annotated[int, typer.Option(min=1, help="Normal cells per stack (3 stacks).")]
Seed = Annotated[int, typer.Option(help="Seeds weights, data split and order, augmentation, masks (0 to 2**63-1).")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue the run in --out where it stopped.")]
ShowConfig = Annotated[bool, typer.Option("--show-config", help="Print the resolved config and exit.")]
CheckpointEvery = Annotated[int, typer.Option(min=1, help="Steps between checkpoints.")]


def data_spec(dataset: str, data_dir: Path | None, subset: int | None, seed: int, val_fraction: float = 0.1,
              image_size: int | None = None) -> DataSpec:
    """The data options of a training command as the library's :class:`~nas_core.data.DataSpec`."""
    return DataSpec.with_subset(subset, dataset=dataset, data_dir=str(data_dir) if data_dir else None, seed=seed,
                                val_fraction=val_fraction, image_size=image_size)


def check_options(config, image_size: int | None) -> None:
    """What a training command checks before it reads data or writes: the image size, and that
    this machine has ``config.device`` (the config has checked the rest)."""
    check_image_size(image_size)
    check_device(config.device)


def check_device(device: str) -> None:
    """Refuse a device this machine does not have, before anything is written."""
    resolved = resolve_device(device)  # (a RunDirError where torch sees no CUDA device)
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise UserError(f"device {device!r} was asked for, but torch sees {torch.cuda.device_count()} CUDA "
                        "device(s)", hint="use {device=cuda:0} or {device=auto}")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise UserError("device 'mps' was asked for, but torch sees no Apple GPU", hint="use {device=auto}")


def check_steps(config, train_size: int) -> None:
    """Refuse a training of more than ``MAX_STEPS`` steps (``--epochs`` times the steps of an epoch)."""
    total = config.total_steps(train_size)
    if total > MAX_STEPS:
        raise UserError(f"{config.epochs:g} epochs of {train_size:,} images in batches of {config.batch_size} are "
                        f"{total:,} steps", hint=f"give fewer {{epochs}}: at most {MAX_STEPS:,} steps")


def read_arch(path: Path) -> Architecture:
    """An architecture from a JSON file, validated against its registered space; whatever is
    wrong with the file (unreadable, not UTF-8, not JSON, nested too deeply) is one line naming it."""
    with reading(path):
        if path.exists() and not path.is_file():  # a folder, a FIFO (reading it would wait forever), ...
            raise UserError(f"cannot read {path}: not a regular file")
        text = path.read_bytes().decode("utf-8-sig")  # (a byte-order mark is harmless)
        try:
            arch = Architecture.from_json(text)
            return get_space_or_fail(arch.space).validate(arch)
        except InputError as e:
            raise UserError(f"{path}: {e.message}", e.hint) from None


def check_seed(seed: int) -> None:
    """Refuse a seed that torch cannot take (a command without a config to check it)."""
    if not 0 <= seed <= MAX_SEED:
        raise UserError(f"seed {seed} does not fit torch's 64-bit seeds", hint=f"give {{seed}} from 0 to {MAX_SEED}")


class RunRecord(Callback):
    """Writes ``<command>.run.json`` (config, versions, git revision) into the run directory when
    the training starts, that is once the trainer has accepted the folder and its checkpoints: a
    refused command writes none. Trainers call back on the main rank only (torchrun)."""

    def __init__(self, out: Path, command: str, config, extra: dict):
        self.path = out / f"{command.replace(' ', '_')}.run.json"
        self.command, self.config, self.extra = command, config, extra

    def on_start(self, info: dict) -> None:
        write_run_info(self.path, self.config.to_dict(), {"command": f"nas {self.command}", **self.extra})
