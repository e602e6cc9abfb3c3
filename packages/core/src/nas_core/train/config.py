"""Typed training configurations. Units are stated next to every default.

Paper: Bender et al. 2018, Sec. 3.2 (training the one-shot model) and Sec. 4 (stand-alone
training of the chosen architectures).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields

from ..errors import InputError

# What can run: larger values are refused up front, never tried (a typo such as --epochs 1e300 or
# --width 1000000 would otherwise run "forever" or ask the allocator for terabytes).
MAX_STEPS = 10**9  # optimizer steps of one training
MAX_EPOCHS = 10**6  # passes over the training split
MAX_WIDTH = 1024  # F, channels of the first stack (x4 in the last)
MAX_CELLS_PER_STACK = 64
MAX_SEED = 2**63 - 1  # seeds are torch's 64-bit seeds, with room for the offsets derived from them
MAX_CUTOUT = 1024  # pixels, side of the cutout square (more than any image's side)
DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


@dataclass(frozen=True)
class TrainConfig:
    """What both trainers share: schedule, optimizer, device and bookkeeping."""

    epochs: float | None = 10.0  # passes over the training split; ignored when `steps` is set
    steps: int | None = None  # optimizer steps in total (overrides `epochs`)
    batch_size: int = 128  # examples per step
    lr: float = 0.1  # learning rate per 256 examples; scaled linearly with `batch_size`
    momentum: float = 0.9  # SGD with Nesterov momentum (Sec. 3.2)
    weight_decay: float = 1e-4  # L2 coefficient
    warmup: float = 0.03  # linear warm-up, as a fraction of all steps; then cosine decay to 0
    grad_clip: float = 5.0  # max global gradient norm (0 disables)
    crop_padding: int = 4  # pixels of padding for random crops (0 disables)
    flip: bool = True  # random horizontal flips
    seed: int = 0  # seeds weights, data order, augmentation and dropout masks
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    bf16: bool = True  # bf16 autocast on CUDA (ignored on CPU)
    channels_last: bool = True  # channels-last memory format (faster convs on CUDA and on CPU)
    compile: bool = False  # torch.compile the stand-alone network (the one-shot model branches)
    log_every: int = 10  # steps between progress reports / metrics lines
    checkpoint_every: int = 200  # steps between checkpoints (one is always written at the end)

    def __post_init__(self) -> None:
        if self.steps is None and self.epochs is None:
            raise InputError("neither epochs nor steps given", hint="give {epochs} or {steps}")
        if self.steps is not None and not 1 <= self.steps <= MAX_STEPS:
            raise InputError(f"{self.steps} steps asked for", hint=f"give {{steps}} between 1 and {MAX_STEPS:,}")
        if self.epochs is not None and not 0 < self.epochs <= MAX_EPOCHS:  # (false for nan too)
            raise InputError(f"{self.epochs} epochs asked for",
                             hint=f"give {{epochs}} above 0 and at most {MAX_EPOCHS:,}")
        if self.batch_size < 1:
            raise InputError(f"a batch of {self.batch_size} examples", hint="give {batch_size} of at least 1")
        _require_range(self, "lr", low=0.0, low_open=True)
        for name in ("momentum", "weight_decay", "grad_clip"):
            _require_range(self, name, low=0.0)
        _require_range(self, "warmup", low=0.0, high=1.0)
        if not 0 <= self.seed <= MAX_SEED:
            raise InputError(f"seed {self.seed} does not fit torch's 64-bit seeds",
                             hint=f"give {{seed}} between 0 and {MAX_SEED} (2**63 - 1)")
        if not DEVICE.fullmatch(self.device):
            raise InputError(f"unknown device {self.device!r}", hint="give {device} as auto, cpu, cuda or cuda:N")
        for name in ("log_every", "checkpoint_every"):
            _require_range(self, name, low=1)

    def check_world(self, processes: int) -> None:
        """Refuse a global batch that does not split evenly over ``processes`` (torchrun)."""
        if self.batch_size % processes:
            raise InputError(f"a batch of {self.batch_size} does not split evenly over {processes} processes",
                             hint=f"choose a {{batch_size}} that is a multiple of {processes}")

    def total_steps(self, train_size: int) -> int:
        if self.steps is not None:
            return self.steps
        return max(1, round(self.epochs * (train_size // self.batch_size)))

    def scaled_lr(self) -> float:
        return self.lr * self.batch_size / 256

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict):
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class SupernetConfig(TrainConfig):
    """Training the one-shot model (Sec. 3.2)."""

    space: str = "bender2018"  # registered search space
    width: int = 16  # F, channels of the first stack
    cells_per_stack: int = 2
    ghost_batch: int = 32  # examples per ghost batch: own dropout masks and BN statistics
    dropout_rate: float = 0.1  # r: final probability that all paths into a node are dropped
    bn_affine: bool = False  # learned scale/shift in the one-shot model's batch norm
    # Part of training over which the path-dropout rate ramps up to r; it stays at r after that
    # (1.0: the paper's ramp over all of training; 0.5: half ramp, half plateau).
    dropout_ramp: float = 1.0
    # Decay of an exponential moving average of the weights, kept beside them for scoring
    # (`load_supernet(..., ema=True)`); 0 keeps none. Not in the paper: a lever we measure.
    ema_decay: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_network(self)
        if not 0 < self.dropout_ramp <= 1:  # (false for nan too)
            raise InputError(f"dropout_ramp {self.dropout_ramp} is out of range", hint="give {dropout_ramp} in (0, 1]")
        _require_range(self, "ema_decay", low=0.0, high=1.0)
        if self.ghost_batch < 1 or self.batch_size % self.ghost_batch:
            raise InputError(f"batch_size {self.batch_size} must be a multiple of ghost_batch {self.ghost_batch}",
                             hint="choose {batch_size} and {ghost_batch} to match")
        _require_range(self, "dropout_rate", low=0.0, high=1.0)

    def check_world(self, processes: int) -> None:
        """Each process takes whole ghost batches of the global batch (torchrun)."""
        ghosts = self.batch_size // self.ghost_batch
        if ghosts % processes:
            raise InputError(f"the batch of {self.batch_size} makes {ghosts} ghost batches of {self.ghost_batch}, "
                             f"which do not split evenly over {processes} processes",
                             hint=f"make {{batch_size}} / {{ghost_batch}} a multiple of {processes}")


@dataclass(frozen=True)
class StandaloneConfig(TrainConfig):
    """Training a chosen architecture from scratch (Sec. 4), with the usual final-training tricks."""

    width: int = 16
    cells_per_stack: int = 2
    weight_decay: float = 3e-4
    cutout: int = 0  # side of the cutout square in pixels (0 disables)
    drop_path: float = 0.0  # final drop-path probability per op, rising linearly from 0
    label_smoothing: float = 0.0
    eval_batch_size: int = 500  # examples per evaluation batch
    sync_bn: bool = False  # under torchrun: batch-norm statistics over the global batch (CUDA only)

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_network(self)
        _require_range(self, "cutout", low=0, high=MAX_CUTOUT + 1)
        _require_range(self, "eval_batch_size", low=1)
        _require_range(self, "drop_path", low=0.0, high=1.0)
        _require_range(self, "label_smoothing", low=0.0, high=1.0)


def _require_range(config, name: str, low: float, high: float = math.inf, low_open: bool = False) -> None:
    """Refuse ``config.<name>`` unless it is a finite number from ``low`` (excluded with
    ``low_open``) to below ``high``."""
    value = getattr(config, name)
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        finite = False
    if finite and (low < value if low_open else low <= value) and value < high:
        return
    wanted = f"{'above' if low_open else 'at least'} {low:g}" + (f" and below {high:g}" if high < math.inf else "")
    raise InputError(f"{name} {value} is out of range", hint=f"give {{{name}}} {wanted}")


def _require_network(config) -> None:
    """Refuse a network that cannot be built on any machine (``width``, ``cells_per_stack``)."""
    if not 2 <= config.width <= MAX_WIDTH:
        raise InputError(f"width {config.width} is out of range", hint=f"give {{width}} between 2 and {MAX_WIDTH}")
    if not 1 <= config.cells_per_stack <= MAX_CELLS_PER_STACK:
        raise InputError(f"{config.cells_per_stack} cells per stack",
                         hint=f"give {{cells_per_stack}} between 1 and {MAX_CELLS_PER_STACK}")
