"""Typed training configurations. Units are stated next to every default.

Paper: Bender et al. 2018, Sec. 3.2 (training the one-shot model) and Sec. 4 (stand-alone
training of the chosen architectures).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..errors import InputError


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
            raise ValueError("give epochs or steps")
        if (self.steps is not None and self.steps < 1) or (self.epochs is not None and self.epochs <= 0):
            raise ValueError("steps and epochs must be positive")
        if self.batch_size < 1 or self.lr <= 0 or not 0 <= self.warmup < 1:
            raise ValueError(f"invalid batch_size/lr/warmup: {self.batch_size}, {self.lr}, {self.warmup}")

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

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.batch_size % self.ghost_batch:
            raise ValueError(f"batch_size {self.batch_size} must be a multiple of "
                             f"ghost_batch {self.ghost_batch}")
        if not 0 <= self.dropout_rate < 1:
            raise ValueError(f"dropout_rate must be in [0, 1), got {self.dropout_rate}")

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
