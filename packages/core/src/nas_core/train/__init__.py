"""Trainers: the one-shot model (Sec. 3.2) and stand-alone networks (Sec. 4).

Both share one loop (``loop.py``): cosine schedule with warm-up, progress callbacks, metrics in
``metrics.jsonl``, atomic safetensors checkpoints (``checkpoint.py``) and exact resume; under
torchrun, on several processes (``distributed.py``).
"""

from .checkpoint import (
    CheckpointError,
    atomic_write_json,
    atomic_write_text,
    find_checkpoint,
    latest_checkpoint,
    read_state,
)
from .config import StandaloneConfig, SupernetConfig, TrainConfig
from .distributed import World, current_world, init_world, launched_by_torchrun, planned_world
from .loop import Callback, Progress, TrainingDiverged, lr_at, resolve_device
from .rundir import RunDirError, guard_settings, require_same
from .standalone import cutout, evaluate, load_network, read_result, train_standalone
from .supernet import build_supernet, load_supernet, ramp, train_supernet

__all__ = [
    "Callback",
    "CheckpointError",
    "Progress",
    "RunDirError",
    "StandaloneConfig",
    "SupernetConfig",
    "TrainConfig",
    "TrainingDiverged",
    "World",
    "atomic_write_json",
    "atomic_write_text",
    "build_supernet",
    "current_world",
    "cutout",
    "evaluate",
    "find_checkpoint",
    "guard_settings",
    "init_world",
    "latest_checkpoint",
    "launched_by_torchrun",
    "load_network",
    "load_supernet",
    "lr_at",
    "planned_world",
    "ramp",
    "read_result",
    "read_state",
    "require_same",
    "resolve_device",
    "train_standalone",
    "train_supernet",
]
