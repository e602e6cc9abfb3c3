"""Atomic, pickle-free checkpoints: safetensors for tensors, JSON for everything else.

Layout of a run directory::

    checkpoints/step_00000200/model.safetensors    # model weights only
    checkpoints/step_00000200/trainer.safetensors  # optimizer buffers, RNG and loader states
    checkpoints/step_00000200/state.json           # space, config, step, metrics, ...
    checkpoints/latest                             # name of the newest complete checkpoint

A checkpoint directory is written under a temporary name and renamed into place, then ``latest``
is replaced atomically: a crash at any moment leaves the previous checkpoint intact. Nothing is
ever unpickled on load.

A process killed while writing leaves only temporary names behind (``.<name>.<random>.tmp``):
the next write of the same file, or checkpoint, removes them. A write that fails (a full disk)
removes its own and raises ``OSError`` naming the file it was writing.

What a crash cannot do, a disk can: ``state.json`` records the size and SHA-256 of each
safetensors file, and :func:`find_checkpoint` passes over a checkpoint that fails the check (torn,
bit-flipped, missing files, unreadable ``state.json``) or a ``latest`` that names no checkpoint,
for the newest one that passes, and says so in its notes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save

from ..errors import InputError
from ..jsonfile import UnreadableJson, read_json_object

FORMAT_VERSION = 1
FILES = ("model.safetensors", "trainer.safetensors")  # the files state.json records the hashes of
STEP_NAME = re.compile(r"step_(\d{8,})")  # a checkpoint folder: step_00000200
TMP = ".tmp"  # the suffix of every temporary name: .model.safetensors.k2j4h6g8.tmp, .step_00000200.x7c2m9q1.tmp


class CheckpointError(InputError):
    """A checkpoint that cannot be used: damaged (torn, bit-flipped, files missing), an unreadable
    ``state.json``, or a format this nas-core does not read."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file (a name no other writer uses, in the
    same folder) and a rename. Temporary files of ``path`` that a killed process left are removed
    first; an ``OSError`` names ``path`` (a full disk's error names no file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_temporaries(path.parent, re.escape(path.name))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise naming(e, path) from None
        raise


def is_temporary(name: str) -> bool:
    """Whether ``name`` is one of the temporary names this module writes through."""
    return re.fullmatch(rf"\..+\.[A-Za-z0-9_]{{8}}{re.escape(TMP)}", name) is not None


def remove_temporaries(folder: Path, name: str) -> None:
    """Remove the temporary files (or folders) through which a killed writer was writing ``name``
    in ``folder`` (``name`` a regular expression: ``step_\\d+`` for every checkpoint). Each file,
    and each checkpoint folder, has one writer at a time (the run folder's lock, or the claim of a
    finalist), so what is found is stale."""
    pattern = re.compile(rf"\.{name}\.[A-Za-z0-9_]{{8}}{re.escape(TMP)}")
    try:
        found = [p for p in folder.iterdir() if pattern.fullmatch(p.name)]
    except OSError:
        return
    for path in found:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def naming(e: OSError, path: str | Path) -> OSError:
    """``e`` with ``path`` as its file name where it names none (a write that ran out of space)."""
    return e if e.filename is not None else OSError(e.errno, e.strerror or str(e), str(path))


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


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, in hex (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def file_record(path: str | Path) -> dict:
    """What a loader checks a file against: ``{"bytes": size, "sha256": hex digest}``."""
    return {"bytes": Path(path).stat().st_size, "sha256": file_sha256(path)}


def bytes_record(data: bytes) -> dict:
    """:func:`file_record` of a file that will hold ``data``."""
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def file_problem(path: Path, recorded: Any) -> str | None:
    """Why ``path`` does not match its :func:`file_record` ("model.safetensors: SHA-256 differs"),
    or None when it does."""
    if not path.is_file():
        return f"{path.name} is missing"
    if not isinstance(recorded, dict):
        return f"no size and SHA-256 recorded for {path.name}"
    size = path.stat().st_size
    if size != recorded.get("bytes"):
        return f"{path.name}: {size} bytes, not the {recorded.get('bytes')!r} recorded"
    if file_sha256(path) != recorded.get("sha256"):
        return f"{path.name}: SHA-256 differs"
    return None


def save_checkpoint(out_dir: str | Path, step: int, model: dict[str, torch.Tensor],
                    trainer: dict[str, torch.Tensor], state: dict, keep: int = 2) -> Path:
    """Write checkpoint ``step`` atomically and keep only the newest ``keep``. Returns its folder.

    Checkpoints of later steps are removed too: they belong to a run that was resumed from an
    earlier checkpoint (the newest was damaged), and would otherwise count among the ``keep``."""
    root = Path(out_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    remove_temporaries(root, r"step_\d{8,}")  # what a killed writer left
    final = root / f"step_{step:08d}"
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{final.name}.", suffix=TMP))
    try:
        data = {"model.safetensors": save(_contiguous(model)), "trainer.safetensors": save(_contiguous(trainer))}
        files = {name: bytes_record(data[name]) for name in FILES}
        data["state.json"] = json.dumps({"format_version": FORMAT_VERSION, **state, "files": files},
                                        indent=2, sort_keys=True).encode()
        for name, content in data.items():
            (tmp / name).write_bytes(content)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) and (e.filename is None or str(e.filename).startswith(str(tmp))):
            raise OSError(e.errno, e.strerror or str(e), str(final)) from None  # a full disk: name the checkpoint
        raise
    atomic_write_text(root / "latest", final.name + "\n")
    later = [p for p in checkpoint_folders(out_dir) if _step_of(p) > step]
    for old in later + checkpoint_folders(out_dir)[len(later) + keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def checkpoint_folders(out_dir: str | Path) -> list[Path]:
    """The ``checkpoints/step_*`` folders of a run directory, newest first (found by listing; a
    folder being written has a temporary name and is not among them)."""
    root = Path(out_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if STEP_NAME.fullmatch(p.name) and p.is_dir() and not p.is_symlink()]
    return sorted(found, key=_step_of, reverse=True)


def _step_of(folder: Path) -> int:
    return int(STEP_NAME.fullmatch(folder.name)[1])


@dataclass(frozen=True)
class Found:
    """What :func:`find_checkpoint` found in a run directory."""

    folder: Path | None  # the checkpoint to use: the one ``latest`` names, else the newest that passes
    notes: tuple[str, ...] = ()  # what was passed over, and why: for the user
    damaged: tuple[str, ...] = ()  # "step_00000200 (model.safetensors: SHA-256 differs)", each one

    @property
    def step(self) -> int:
        """The step of :attr:`folder`; -1 without one."""
        return -1 if self.folder is None else _step_of(self.folder)


def find_checkpoint(out_dir: str | Path) -> Found:
    """The checkpoint to resume from or load: the one ``checkpoints/latest`` names if that is the
    name of a checkpoint folder of this run and the checkpoint passes :func:`checkpoint_problem`,
    else the newest folder (found by listing) that passes. ``folder`` is None when none passes;
    ``damaged`` then says whether there were checkpoints at all."""
    listed = checkpoint_folders(out_dir)
    named, pointer_problem = _pointed(Path(out_dir) / "checkpoints", listed)
    candidates = ([named] if named else []) + [p for p in listed if p != named]
    damaged: list[tuple[str, str]] = []  # (folder name, problem)
    for folder in candidates:
        problem = checkpoint_problem(folder)
        if problem is not None:
            damaged.append((folder.name, problem))
            continue
        notes = [f"checkpoint {name} is damaged ({why}); resuming from {folder.name}" for name, why in damaged]
        if pointer_problem:
            notes.insert(0, f"checkpoints/latest {pointer_problem}; resuming from {folder.name}, the newest "
                            "valid checkpoint")
        return Found(folder, tuple(notes), tuple(f"{name} ({why})" for name, why in damaged))
    return Found(None, (), tuple(f"{name} ({why})" for name, why in damaged))


def _pointed(root: Path, listed: list[Path]) -> tuple[Path | None, str | None]:
    """The folder ``latest`` names, or None and what is wrong with it. Only the name of a
    checkpoint folder present in ``root`` is accepted: the pointer is never joined into a path."""
    pointer = root / "latest"
    if not pointer.exists() and not pointer.is_symlink():
        return None, "is missing" if listed else None
    if pointer.exists() and not pointer.is_file():  # a FIFO would never be read to its end
        return None, "is not a regular file"
    try:
        name = pointer.read_text().strip()
    except (OSError, UnicodeDecodeError) as e:
        return None, f"cannot be read ({type(e).__name__})"
    named = next((p for p in listed if p.name == name), None)
    if named is not None:
        return named, None
    if not name:
        return None, "is empty"
    shown = name if len(name) <= 40 else name[:37] + "..."
    if STEP_NAME.fullmatch(name):
        return None, f"names {shown}, which is not a checkpoint folder"
    return None, f"holds {shown!r}, not the name of a checkpoint"


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The checkpoint folder of a run directory to load: the one ``checkpoints/latest`` names, or
    the newest that passes its checks if that one does not (:func:`find_checkpoint`); None if no
    checkpoint passes."""
    return find_checkpoint(out_dir).folder


def checkpoint_problem(folder: str | Path) -> str | None:
    """Why checkpoint ``folder`` cannot be used ("model.safetensors: SHA-256 differs"), or None."""
    folder = Path(folder)
    try:
        state = _read_state(folder)
    except CheckpointError as e:
        return e.render()
    if STEP_NAME.fullmatch(folder.name) and state["step"] != _step_of(folder):
        return f"state.json: step {state['step']}, not the folder's"
    if "files" not in state:
        # Written before sizes and hashes were recorded: nothing to verify against, so it is
        # accepted as it is (a torn file then fails only when safetensors reads it).
        return next((f"{name} is missing" for name in FILES if not (folder / name).is_file()), None)
    files = state["files"] if isinstance(state["files"], dict) else {}
    return next((p for name in FILES if (p := file_problem(folder / name, files.get(name)))), None)


def read_state(folder: str | Path) -> dict:
    """A checkpoint's ``state.json``; :class:`CheckpointError` if it cannot be read, is not a JSON
    object, or records no format version in 1..FORMAT_VERSION or no integer step."""
    try:
        return _read_state(Path(folder))
    except CheckpointError as e:
        raise CheckpointError(f"checkpoint {folder}: {e.message}", hint=e.hint) from None


def _read_state(folder: Path) -> dict:
    try:
        state = read_json_object(folder / "state.json")
    except UnreadableJson as e:
        raise CheckpointError(f"state.json {e.why}") from None
    version = state.get("format_version")
    if type(version) is not int or version < 1:  # type(): True is an int to isinstance
        raise CheckpointError(f"state.json: format_version {version!r} is not a format version")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"state.json: format {version} is newer than this nas-core reads "
                              f"({FORMAT_VERSION})", hint="upgrade nas-core")
    if type(state.get("step")) is not int:
        raise CheckpointError(f"state.json: step {state.get('step')!r} is not a step number")
    return state


def load_tensors(folder: str | Path, name: str, device: str | torch.device = "cpu") -> dict:
    """Tensors of ``model`` or ``trainer`` (safetensors: no code runs on load)."""
    return load_file(Path(folder) / f"{name}.safetensors", device=str(device))
