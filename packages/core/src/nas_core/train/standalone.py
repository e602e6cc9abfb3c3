"""Training a chosen architecture from scratch (Bender et al. 2018, Sec. 4: "stand-alone").

Ordinary batch norm with running statistics, SGD with Nesterov momentum and weight decay, cosine
schedule, and the usual final-training options: cutout, scheduled drop-path, label smoothing.
The run directory ends with ``model.safetensors`` (weights), ``arch.json`` and ``result.json``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save
from torch.nn.parallel import DistributedDataParallel

from ..cell import DropPath
from ..data import ImageData, derived_generator
from ..errors import InputError
from ..evaluation import autocast, evaluate_split
from ..jsonfile import UnreadableJson, read_json_object
from ..network import Network, NetworkConfig, build_network, count_flops, count_params
from ..space import Architecture, get_space
from .checkpoint import atomic_write_bytes, atomic_write_json, atomic_write_text, bytes_record, file_problem
from .config import StandaloneConfig
from .distributed import sync_batch_norm
from .loop import Callback, Task, prepare, run
from .rundir import RunDirError


def cutout(x: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Zero one ``size`` x ``size`` square per image at a random centre (DeVries & Taylor 2017);
    batched, no Python loop over images."""
    B, _, H, W = x.shape
    cy = torch.randint(H, (B, 1, 1), generator=generator, device=x.device)
    cx = torch.randint(W, (B, 1, 1), generator=generator, device=x.device)
    ys = torch.arange(H, device=x.device).view(1, H, 1)
    xs = torch.arange(W, device=x.device).view(1, 1, W)
    inside = ((ys - cy).abs() <= size // 2) & ((xs - cx).abs() <= size // 2)  # (B, H, W)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def evaluate(model: torch.nn.Module, data: ImageData, batch_size: int = 500,
             device: str | torch.device = "cpu", bf16: bool = True) -> dict[str, float]:
    """Loss and top-1 accuracy of a stand-alone network on a whole split (eval mode), bf16
    autocast on CUDA unless ``bf16=False``; the model's mode is restored afterwards."""
    was_training = model.training
    found = evaluate_split(model.eval(), data, batch_size, device, bf16)
    model.train(was_training)
    return found


def train_standalone(arch: Architecture, config: StandaloneConfig, train: ImageData, val: ImageData,
                     out_dir: str | Path, *, test: ImageData | None = None, resume: bool = False,
                     callbacks: Iterable[Callback] = ()) -> dict:
    """Train ``arch`` from scratch on ``train``; evaluate on ``val`` (and ``test``). Returns the
    result also written to ``out_dir/result.json``.

    Under torchrun: ``DistributedDataParallel`` over the processes, each on its slice of every
    batch, with batch norm per process, or over the global batch with ``config.sync_bn`` (CUDA)."""
    network = NetworkConfig(config.width, config.cells_per_stack, train.channels, train.num_classes)
    device, world, net, loader = prepare(config, lambda: build_network(arch, network), train)
    if config.sync_bn and world.size > 1:
        if device.type != "cuda":
            raise InputError("synchronised batch norm needs CUDA devices (torch syncs it only there)",
                             hint="drop {sync_bn}")
        sync_batch_norm(net)
    opt = torch.optim.SGD(net.parameters(), lr=config.scaled_lr(), momentum=config.momentum,
                          nesterov=True, weight_decay=config.weight_decay)
    total = config.total_steps(len(train))
    # static_graph: every step uses the same parameters (an architecture may leave a cell input's
    # preprocessing unused, which plain DDP refuses).
    module = DistributedDataParallel(net, static_graph=True) if world.size > 1 else net
    forward = torch.compile(module) if config.compile else module

    def step(x: torch.Tensor, y: torch.Tensor, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        # Cutout and drop-path draw from a generator keyed by (seed, rank, step): resumable as is.
        augment = derived_generator(config.seed, f"augment-{world.rank}-{i}", device)
        if config.cutout:
            x = cutout(x, config.cutout, augment)
        drop = DropPath(config.drop_path * i / max(1, total - 1), augment) if config.drop_path else None
        with autocast(device, config.bf16):
            logits = forward(x, drop) if drop is not None else forward(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # DDP averages the gradients over the processes here
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
        opt.step()
        return loss.detach(), (logits.argmax(1) == y).sum()

    state = {"kind": "standalone", "space": arch.space, "arch": arch.to_dict(),
             "config": config.to_dict(), "network": network.to_dict(), "data": train.info()}
    task = Task(net, opt, step, state)
    net.train()
    summary = run(task, loader, config, total, out_dir, callbacks, resume)
    result = _result(net, arch, network, config, train, val, test, summary, device)
    if world.main:
        _write(net, arch, result, Path(out_dir))
    world.barrier()
    return result


def _result(net: Network, arch, network, config, train, val, test, summary: dict, device) -> dict:
    return {
        "arch": arch.to_dict(), "arch_id": arch.id, "arch_string": str(arch),
        "params": count_params(net), "flops": count_flops(net, tuple(train.images.shape[1:])),
        "val": evaluate(net, val, config.eval_batch_size, device, config.bf16),
        "test": None if test is None else evaluate(net, test, config.eval_batch_size, device, config.bf16),
        "train_seconds": summary["seconds"], "steps": summary["steps"], "network": network.to_dict(),
        "data": train.name, "classes": list(train.classes), "image_size": train.image_size,
        "channels": train.channels,
        "mean": list(train.mean), "std": list(train.std),
    }


def _write(net: Network, arch: Architecture, result: dict, out_dir: Path) -> None:
    """``model.safetensors``, ``arch.json``, then ``result.json`` (written last: it marks the
    folder done, and records the size and SHA-256 of the weights under ``files``, as a checkpoint's
    ``state.json`` does; :func:`load_network` checks them)."""
    weights = save({k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()})
    atomic_write_bytes(out_dir / "model.safetensors", weights)
    atomic_write_text(out_dir / "arch.json", arch.to_json(indent=2) + "\n")
    atomic_write_json(out_dir / "result.json", {**result, "files": {"model.safetensors": bytes_record(weights)}})


def load_network(model_dir: str | Path, device: str | torch.device = "cpu") -> tuple[Network, dict]:
    """A trained stand-alone network and its ``result.json`` (weights via safetensors only, checked
    against the size and SHA-256 that ``result.json`` records, where it records them)."""
    model_dir = Path(model_dir)
    result = read_result(model_dir)
    weights = model_dir / "model.safetensors"
    # A result.json written before the hash was recorded has no "files": nothing to check against.
    files = result.get("files")
    problem = file_problem(weights, files.get("model.safetensors")) if isinstance(files, dict) else None
    if problem:
        raise RunDirError(f"{model_dir} holds damaged weights ({problem})",
                          hint="train the network again")
    arch = Architecture.from_json(result["arch"])
    get_space(arch.space).validate(arch)  # (a KeyError for a space not registered here)
    net = build_network(arch, NetworkConfig(**result["network"]))
    net.load_state_dict(load_file(weights))
    return net.to(device).eval(), result


def read_result(model_dir: str | Path) -> dict:
    """The ``result.json`` of a trained stand-alone network; :class:`RunDirError` (one line, naming
    the file) if it is missing or is no JSON object."""
    path = Path(model_dir) / "result.json"
    if not path.exists():
        raise RunDirError(f"{model_dir} holds no trained network (no result.json)")
    try:
        return read_json_object(path)
    except UnreadableJson as e:
        raise RunDirError(str(e), hint="train the network again") from None
