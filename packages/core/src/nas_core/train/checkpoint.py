"""Atomic, pickle-free checkpoints: safetensors for tensors, JSON for everything else.

Layout of a run directory::

    checkpoints/step_00000200/model.safetensors    # model weights only
    checkpoints/step_00000200/trainer.safetensors  # optimizer buffers, RNG and loader states
    checkpoints/step_00000200/state.json           # space, config, step, metrics, ...
    checkpoints/latest                             # name of the newest complete checkpoint

A checkpoint directory is written under a temporary name and renamed into place, then ``latest``
is replaced atomically: a crash at any moment leaves the previous checkpoint intact. Nothing is
ever unpickled on load.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

FORMAT_VERSION = 1


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def split_state(prefix: str, state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Separate the tensors of a (flat) state dict, for safetensors, from the JSON-able rest."""
    tensors = {f"{prefix}.{k}": v for k, v in state.items() if isinstance(v, torch.Tensor)}
    rest = {k: v for k, v in state.items() if not isinstance(v, torch.Tensor)}
    return tensors, rest


def join_state(prefix: str, tensors: dict[str, torch.Tensor], rest: dict) -> dict:
    start = len(prefix) + 1
    return {**rest, **{k[start:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}}


def _contiguous(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in tensors.items()}


def save_checkpoint(out_dir: str | Path, step: int, model: dict[str, torch.Tensor],
                    trainer: dict[str, torch.Tensor], state: dict, keep: int = 2) -> Path:
    """Write checkpoint ``step`` atomically and keep only the newest ``keep``. Returns its folder."""
    root = Path(out_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{step:08d}"
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{final.name}."))
    try:
        save_file(_contiguous(model), tmp / "model.safetensors")
        save_file(_contiguous(trainer), tmp / "trainer.safetensors")
        (tmp / "state.json").write_text(json.dumps({"format_version": FORMAT_VERSION, **state},
                                                   indent=2, sort_keys=True))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_text(root / "latest", final.name + "\n")
    for old in sorted(p for p in root.glob("step_*") if p.is_dir())[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete checkpoint folder of a run directory, or None."""
    pointer = Path(out_dir) / "checkpoints" / "latest"
    if not pointer.exists():
        return None
    folder = pointer.parent / pointer.read_text().strip()
    return folder if (folder / "state.json").exists() else None


def read_state(folder: str | Path) -> dict:
    state = json.loads((Path(folder) / "state.json").read_text())
    if state.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{folder}: checkpoint format {state['format_version']} is newer than "
                         "this nas-core reads; upgrade nas-core")
    return state


def load_tensors(folder: str | Path, name: str, device: str | torch.device = "cpu") -> dict:
    """Tensors of ``model`` or ``trainer`` (safetensors: no code runs on load)."""
    return load_file(Path(folder) / f"{name}.safetensors", device=str(device))
