"""One command per run folder: a lock on ``RUN/.lock`` held for the command's life.

Two commands writing into one folder corrupt it (both train, metrics lines are duplicated, a
study cannot tell a failed trial). So a command that writes a run folder (`nas run`, `nas
supernet train`, `nas train`, `nas correlate`, `nas ablate dropout`) holds :func:`run_lock` on
it; a second command on the same folder is refused at once, in one line that names the folder
and the holder::

    runs/x is in use by nas run (pid 1234 on host): wait for it to end, or give another --out

The lock is an ``flock`` (filelock's ``FileLock``): the kernel releases it when its process ends,
however it ends (kill -9 included), so a crash never leaves a stale lock: the files a killed
command leaves behind (``RUN/.lock``, and ``RUN/.lock.json``, which says who holds the lock) are
taken over by the next one; a command that ends removes them. Under torchrun the processes of one
command share the folder: only the main rank takes the lock. `nas search --run` takes none (its
workers join a running `nas run` in that folder on purpose).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import FileLock, Timeout

from nas_core.train import RunDirError, atomic_write_json, planned_world

LOCK, HOLDER = ".lock", ".lock.json"
LOCK_FILES = frozenset({LOCK, HOLDER})  # never part of a run's results (left alone by --overwrite)

_held: set[str] = set()  # the folders this process holds: taking one again is a no-op


class FolderInUse(RunDirError):
    """Another command holds the run folder."""


@contextmanager
def run_lock(folder: str | Path, command: str) -> Iterator[None]:
    """Hold ``folder`` (created if needed) for ``command`` until the block ends, or raise
    :class:`FolderInUse`. The lock's files go when it is released; if the block fails, so do the
    folders this call created and the block left empty: a refused command leaves nothing behind."""
    folder = Path(folder)
    key = os.path.realpath(folder)
    if key in _held or not planned_world().main:
        yield
        return
    created = _make(folder)  # the topmost folder this call created, or None
    lock = FileLock(folder / LOCK)
    try:
        lock.acquire(timeout=0)
    except Timeout:  # (never removes the folder: the holder may have made it a moment ago)
        raise FolderInUse(f"{folder} is in use by {holder(folder)}",
                          hint="wait for it to end, or give another {out}") from None
    except OSError as e:
        _rmdirs(folder, created)
        raise RunDirError(f"cannot lock the folder {folder}: {e.strerror or e}", hint="give another {out}") from None
    _held.add(key)
    failed = True
    try:
        atomic_write_json(folder / HOLDER, {"pid": os.getpid(), "host": socket.gethostname(), "command": command})
        yield
        failed = False
    finally:
        _held.discard(key)
        _release(folder, lock)
        if failed:
            _rmdirs(folder, created)  # (only folders left empty)


def holder(folder: str | Path) -> str:
    """Who holds ``folder``, as recorded next to its lock: ``nas run (pid 1234 on host)``."""
    try:
        info = json.loads(Path(folder, HOLDER).read_text())
        return f"{info['command']} (pid {info['pid']} on {info['host']})"
    except (OSError, ValueError, TypeError, KeyError):  # not written yet, or already gone
        return "another command"


def _make(folder: Path) -> Path | None:
    """Create ``folder`` and its missing parents; the topmost folder created (None: it existed).
    An unusable path is a one-line :class:`RunDirError`."""
    if folder.is_dir():
        return None
    top = folder.absolute()
    while not top.parent.exists() and top.parent != top:
        top = top.parent
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        if folder.is_dir():  # made by another command just now: the lock decides
            return None
        raise RunDirError(f"{folder} is a file, not a folder", hint="give another {out}") from None
    except OSError as e:
        raise RunDirError(f"cannot create the folder {folder}: {e.strerror or e}", hint="give another {out}") from None
    return top


def _release(folder: Path, lock: FileLock) -> None:
    """Remove the lock's files, the lock file while still held, and release it: a command that
    opened the file a moment before finds it unlinked once it gets the lock, and tries again
    (filelock checks the link count), so no two commands ever hold two files."""
    try:
        for name in (HOLDER, LOCK):
            with suppress(OSError):
                (folder / name).unlink()
    finally:
        lock.release()


def _rmdirs(folder: Path, top: Path | None) -> None:
    """Remove the empty folders from ``folder`` up to ``top`` (included; None: none)."""
    if top is None:
        return
    folder = folder.absolute()
    for path in (folder, *folder.parents):
        try:
            path.rmdir()
        except OSError:
            return
        if path == top:
            return
