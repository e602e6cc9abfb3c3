"""The training loop both trainers share: schedule, progress callbacks, checkpoints, resume.

Core never prints: it reports :class:`Progress` to callbacks (the CLI draws them with rich) and
appends the same figures to ``metrics.jsonl`` in the run directory.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from .. import threads
from ..data import DeviceLoader, ImageData
from .checkpoint import (
    Found,
    atomic_write_text,
    find_checkpoint,
    join_state,
    load_tensors,
    naming,
    read_state,
    save_checkpoint,
    split_state,
)
from .config import TrainConfig
from .distributed import World, all_equal, all_sum, current_world, init_world, local_rank, planned_world
from .rundir import RunDirError, require_same


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass(frozen=True)
class Progress:
    step: int  # optimizer steps done
    total_steps: int
    epoch: float  # passes over the training split done
    loss: float  # mean training loss since the last report
    accuracy: float  # mean training accuracy since the last report
    lr: float
    images_per_s: float
    eta_s: float  # estimated seconds to the end
    extra: dict = field(default_factory=dict)  # e.g. {"dropout": current path-dropout rate}


class Callback:
    """Override what you need. Every method is optional."""

    def on_start(self, info: dict) -> None: ...

    def on_progress(self, progress: Progress) -> None: ...

    def on_checkpoint(self, step: int, folder: Path) -> None: ...

    def on_end(self, summary: dict) -> None: ...


class JsonlMetrics(Callback):
    """Append every progress report to ``metrics.jsonl``; on resume, drop lines past the checkpoint.

    A last line cut short (the process was killed while appending it) is dropped; a damaged line
    before it is a :class:`RunDirError` naming the file and the line."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def on_start(self, info: dict) -> None:
        if self.path.exists():
            kept = [ln for ln, step in self._read() if step <= info["start_step"]]
            atomic_write_text(self.path, "".join(ln + "\n" for ln in kept))

    def _read(self) -> list[tuple[str, int]]:
        """``(line, step)`` of each line of the file, but a torn last one."""
        lines = [ln for ln in self.path.read_bytes().split(b"\n") if ln.strip()]
        found = []
        for number, line in enumerate(lines, start=1):
            step = _metrics_step(line)
            if step is None and number == len(lines):
                break  # torn by a kill mid-append: the checkpoint's step is earlier anyway
            if step is None:
                raise RunDirError(f"{self.path}, line {number}: not a metrics record",
                                  hint="repair or delete the line, or use another {out_dir}")
            found.append((line.decode(), step))
        return found

    def on_progress(self, progress: Progress) -> None:
        try:
            with self.path.open("a") as f:
                f.write(json.dumps(asdict(progress), sort_keys=True) + "\n")
        except OSError as e:  # a full disk: its error names no file
            raise naming(e, self.path) from None


def _metrics_step(line: bytes) -> int | None:
    """The step of one line of ``metrics.jsonl``; None if the line is no metrics record."""
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    step = record.get("step") if isinstance(record, dict) else None
    return step if type(step) is int else None


def lr_at(step: int, total: int, peak: float, warmup: float) -> float:
    """Linear warm-up over ``warmup * total`` steps, then cosine decay to zero."""
    warm = max(1, round(warmup * total))
    if step < warm:
        return peak * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return peak * 0.5 * (1 + math.cos(math.pi * t))


def prepare(config: TrainConfig, build: Callable[[], nn.Module], data: ImageData
            ) -> tuple[torch.device, World, nn.Module, DeviceLoader]:
    """Device (with its fast paths on), the process group under torchrun, the seeded model on the
    device, and the training loader (this rank's slice of every global batch)."""
    config.check_world(planned_world().size)  # before joining: a refused run starts nothing
    device = resolve_device(config.device)
    world = init_world(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(config.seed)  # the same initial weights on every rank
    model = build().to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if len(data) < config.batch_size:
        raise RunDirError(f"the training split has {len(data)} images, fewer than one batch of "
                          f"{config.batch_size}", hint="lower {batch_size}")
    loader = DeviceLoader(data, config.batch_size, train=True, device=device, seed=config.seed,
                          crop_padding=config.crop_padding, flip=config.flip,
                          channels_last=config.channels_last, shard=(world.rank, world.size))
    return device, world, model, loader


def resolve_device(device: str) -> torch.device:
    """``auto``: CUDA if torch sees a GPU, else CPU. Under torchrun, ``auto`` and ``cuda`` mean
    this process's GPU (``cuda:LOCAL_RANK``)."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RunDirError(f"device {device!r} was asked for, but torch sees no CUDA device",
                          hint="use {device=cpu} or {device=auto}")
    if device == "cuda":
        device = f"cuda:{local_rank()}"
    return torch.device(device)


@dataclass
class Task:
    """What a trainer plugs into the loop."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    step: Callable[[torch.Tensor, torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]
    state: dict  # JSON written into every checkpoint (kind, space, config, data, ...)
    extra: Callable[[int], dict] = lambda step: {}
    # Tensors the step keeps beside the model (e.g. a moving average of the weights), updated in
    # place; saved with the optimizer state under ``shadow.<name>`` and restored on resume.
    shadow: dict[str, torch.Tensor] = field(default_factory=dict)


SHADOW = "shadow."


def optimizer_tensors(opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    return {f"optim.{i}.{k}": v for i, s in opt.state_dict()["state"].items()
            for k, v in s.items() if isinstance(v, torch.Tensor)}


def load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, i, name = key.split(".", 2)
            state.setdefault(int(i), {})[name] = value
    opt.load_state_dict({"state": state, "param_groups": opt.state_dict()["param_groups"]})


def run(task: Task, loader, config: TrainConfig, total_steps: int, out_dir: str | Path,
        callbacks: Iterable[Callback] = (), resume: bool = False) -> dict:
    """Train ``task`` for ``total_steps`` steps, resuming from ``out_dir`` if asked.

    Under torchrun every rank runs this loop on its slice of each batch; the figures reported are
    those of the global batch, and rank 0 alone writes metrics, checkpoints and progress."""
    out_dir, world = Path(out_dir), current_world()
    out_dir.mkdir(parents=True, exist_ok=True)
    callbacks = [JsonlMetrics(out_dir / "metrics.jsonl"), *callbacks] if world.main else []
    start, notes = _restore(task, loader, out_dir, resume, world)
    for cb in callbacks:
        cb.on_start({"start_step": start, "total_steps": total_steps, "out_dir": str(out_dir),
                     "world_size": world.size, "notes": notes})
    steps_per_epoch = max(1, len(loader))
    batches = _batches(loader)
    device = next(task.model.parameters()).device
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss * examples, correct, examples
    clock, t_start, last_ckpt = time.perf_counter(), time.perf_counter(), start
    for step in range(start, total_steps):
        lr = lr_at(step, total_steps, config.scaled_lr(), config.warmup)
        for group in task.optimizer.param_groups:
            group["lr"] = lr
        threads.tick()  # the `auto` thread policy: fewer threads while a neighbour takes a core
        x, y = next(batches)
        loss, correct = task.step(x, y, step)
        sums[0] += loss.detach().double() * len(y)  # on the device: no synchronisation per step
        sums[1] += correct
        sums[2] += len(y)
        done = step + 1
        report = done % config.log_every == 0 or done % config.checkpoint_every == 0 or done == total_steps
        if not report:
            continue
        loss_sum, correct_sum, seen = all_sum(sums, world).tolist()  # the global batch's figures
        mean_loss = loss_sum / seen
        if not math.isfinite(mean_loss):
            raise TrainingDiverged(
                f"loss became {mean_loss} before step {done}; training stopped. The last good "
                f"checkpoint (step {last_ckpt}) is kept in {out_dir / 'checkpoints'}; try a lower lr")
        now = time.perf_counter()
        progress = Progress(done, total_steps, done / steps_per_epoch, mean_loss, correct_sum / seen,
                            lr, seen / (now - clock), (now - t_start) / (done - start) * (total_steps - done),
                            task.extra(step))
        for cb in callbacks:
            cb.on_progress(progress)
        sums.zero_()
        clock = now
        if done % config.checkpoint_every == 0 or done == total_steps:
            if world.main:
                folder = _save(task, loader, out_dir, done, complete=done == total_steps, world=world)
                for cb in callbacks:
                    cb.on_checkpoint(done, folder)
            last_ckpt = done
    world.barrier()  # the last checkpoint is on disk before any rank goes on
    summary = {"steps": total_steps, "resumed_from": start, "seconds": time.perf_counter() - t_start}
    for cb in callbacks:
        cb.on_end(summary)
    return summary


def _batches(loader):
    while True:
        yield from loader


def _save(task: Task, loader, out_dir: Path, step: int, complete: bool, world: World) -> Path:
    trainer = optimizer_tensors(task.optimizer)
    loader_tensors, loader_rest = split_state("loader", loader.state_dict())
    trainer.update(loader_tensors)
    trainer.update({SHADOW + k: v for k, v in task.shadow.items()})
    state = {**task.state, "step": step, "complete": complete, "loader": loader_rest,
             "world_size": world.size}
    return save_checkpoint(out_dir, step, task.model.state_dict(), trainer, state)


def _restore(task: Task, loader, out_dir: Path, resume: bool, world: World) -> tuple[int, list[str]]:
    """The step to start from (0 without a checkpoint) and notes for the user."""
    found = _resume_point(out_dir, resume, world)
    if found.folder is None:
        return 0, []
    folder, state = found.folder, read_state(found.folder)
    identity = ("kind", "space", "arch", "network", "data")  # what makes the weights mean something
    require_same({k: state.get(k) for k in identity}, {k: task.state.get(k) for k in identity},
                 where=out_dir, what="a checkpoint", hint="use another {out_dir}")
    device = next(task.model.parameters()).device
    task.model.load_state_dict(load_tensors(folder, "model", device))
    tensors = load_tensors(folder, "trainer", device)
    load_optimizer(task.optimizer, tensors)
    for name, value in task.shadow.items():
        if SHADOW + name not in tensors:
            raise RunDirError(f"{folder} holds no moving average of {name}",
                              hint="resume with the {ema_decay} it was trained with")
        value.copy_(tensors[SHADOW + name])
    cpu = {k: v.cpu() for k, v in tensors.items() if k.startswith("loader.")}
    loader.load_state_dict(join_state("loader", cpu, state["loader"]))
    notes, made_with = list(found.notes), state.get("world_size", 1)
    if made_with != world.size:
        notes.append(f"resuming with {world.size} process(es) a checkpoint made with {made_with}: the global "
                     "batch is the same, but the run is no longer bitwise reproducible (sums are taken in "
                     "another order)")
    return state["step"], notes


def _resume_point(out_dir: Path, resume: bool, world: World) -> Found:
    """The checkpoint to resume from (``folder`` None: start at step 0). A damaged newest checkpoint
    (or ``latest`` pointer) is passed over for the newest valid one, with a note; checkpoints of
    which none is valid refuse the run rather than start it again."""
    found = find_checkpoint(out_dir)
    if not all_equal(found.step, world):
        raise RunDirError(f"the processes see different checkpoints in {out_dir}",
                          hint="put {out_dir} on a file system that every machine shares")
    if found.folder is None and not found.damaged:
        return found
    if not resume:
        raise RunDirError(f"{out_dir} already holds a checkpoint",
                          hint="pass {resume} to continue it, or choose another {out_dir}")
    if found.folder is None:
        raise RunDirError(f"no valid checkpoint in {out_dir / 'checkpoints'}: {'; '.join(found.damaged)}",
                          hint="use another {out_dir}")
    return found
