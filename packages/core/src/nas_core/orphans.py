"""Temporary files and folders that a killed process left behind.

Atomic writes stage their bytes under a temporary name that carries the writer's process id
(``.model.onnx.<pid>.<hex>.tmp``, ``.download-<pid>-<hex>``): kill -9 skips every ``finally``, so the
next writer of the same place removes what a process that no longer runs left there. A process
that still runs (another download, another export) keeps its files.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path


def running(pid: int) -> bool:
    """Whether a process with this id runs (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process, or no process id at all: leave its files alone
    return True


def remove_orphans(folder: Path, pattern: str) -> list[Path]:
    """Remove the entries of ``folder`` whose name fully matches ``pattern`` (a regular expression
    with a group ``pid``) and whose process is gone; links are never followed. Returns them."""
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        found = re.fullmatch(pattern, entry.name)
        if found is None or running(int(found["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
