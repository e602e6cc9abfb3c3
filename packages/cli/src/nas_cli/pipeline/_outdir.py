"""Where a `nas run` writes: a new folder per run by default, ``runs/latest`` pointing at the last
one, the name of the run (which names its Optuna study), checking a folder before anything is
written into it, and starting a run folder afresh.

    runs/fashion-mnist-quick-20250314-093012/   a run (pipeline.json, supernet/, search/, ...)
    runs/latest -> fashion-mnist-quick-20250314-093012
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import datetime
from pathlib import Path

from nas_core.train import RunDirError, require_same
from nas_core.train.checkpoint import is_temporary

from .._lock import LOCK_FILES, run_lock
from ._config import RunConfig, identity
from ._pipeline import read_run_state

RUNS = Path("runs")  # where default run folders go, relative to the working directory
LATEST = "latest"  # the link to the last run started with a default folder


def default_out(config: RunConfig, root: str | Path = RUNS, now: datetime | None = None) -> Path:
    """A new folder ``<root>/<dataset>-<profile>-<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``, ... if taken)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{config.data.dataset}-{config.profile}-{stamp}")
    out, n = Path(root) / name, 2
    while out.exists() or out.is_symlink():
        out, n = Path(root) / f"{name}-{n}", n + 1
    return out


def link_latest(out: str | Path) -> str | None:
    """Point ``<out's parent>/latest`` at ``out``, replacing an older link atomically (a new link
    renamed over it). Returns why there is no link, where there cannot be one (no symlinks on
    this system, or ``latest`` is a folder of its own), else None."""
    out = Path(out)
    link, tmp = out.parent / LATEST, out.parent / f".{LATEST}-{os.getpid()}"
    if link.exists() and not link.is_symlink():
        return f"{link} is not a link, left as it is"
    try:
        tmp.unlink(missing_ok=True)
        os.symlink(out.name, tmp, target_is_directory=True)
        os.replace(tmp, link)
    except (OSError, NotImplementedError) as e:
        tmp.unlink(missing_ok=True)
        return f"no {link} link on this system ({getattr(e, 'strerror', None) or e})"
    return None


def unlink_latest(out: str | Path) -> None:
    """Remove ``<out's parent>/latest`` if it points at ``out`` and ``out`` holds nothing (its lock's
    files aside): a run refused before it wrote anything leaves no link to a folder that goes."""
    out, link = Path(out), Path(out).parent / LATEST
    if link.is_symlink() and os.readlink(link) == out.name and not _names(out) - LOCK_FILES:
        link.unlink()


def run_name(out: str | Path) -> str:
    """The name of the run in ``out``: its study's name if it was started before (so that a run
    continues its study), else the folder's own name (``runs/latest`` is the folder it points at)."""
    state = Path(out) / "pipeline.json"
    recorded = read_run_state(state)["config"] if state.exists() else {}
    return recorded.get("search", {}).get("study") or Path(out).resolve().name


def check_run_dir(out: str | Path, config: RunConfig | None) -> None:
    """Refuse, before anything is written, an ``out`` that cannot take this run: a file, a folder
    of other files (whose ``best/`` the run would replace), or a run made with other settings
    than ``config`` (the check :class:`Pipeline` makes when it starts, made early; None: any
    run's folder passes, as for ``--overwrite``). A new or empty folder passes."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"{out} is a file, not a folder", hint="give another {out}")
    if not out.is_dir():
        return
    if os.path.lexists(out / "pipeline.json"):  # (a dangling link too: read_run_state refuses it)
        if config is None:
            return
        recorded = read_run_state(out / "pipeline.json")["config"]
        require_same(identity(recorded), identity(config.to_dict()), where=out, what="a run",
                     hint="use another {out}")
    elif not _is_run_folder(out):
        raise RunDirError(f"{out} holds other files and no pipeline.json, so it is not a run folder; nothing "
                          "changed", hint="give another {out}: a new or empty folder, or a run's")


def clear_run_dir(out: str | Path) -> None:
    """Delete what a run folder holds, to start it afresh. Only a run's folder: one with a
    ``pipeline.json``, or a run stopped in its first phase (only ``supernet/``); a folder that
    does not exist or is empty is left as it is, and so is a folder another command holds
    (:func:`~nas_cli._lock.run_lock`: refused in one line)."""
    out = Path(out)
    if not out.is_dir():
        return
    if not _is_run_folder(out):
        raise RunDirError(f"{out} holds no pipeline.json, so it is not a run folder; nothing deleted",
                          hint="give another {out}")
    with run_lock(out, "nas run --overwrite"):
        for entry in out.iterdir():
            if entry.name in LOCK_FILES:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def _is_run_folder(out: Path) -> bool:
    """Whether the folder ``out`` holds a run: its ``pipeline.json``, or only what a run stopped
    in its first phase leaves (``supernet/``), or nothing (the lock's files, and the temporary
    files of a writer killed mid-write, aside)."""
    names = {name for name in _names(out) - LOCK_FILES if not is_temporary(name)}
    return "pipeline.json" in names or names <= {"supernet"}


def _names(folder: Path) -> set[str]:
    """The names in ``folder`` (none if it is not one)."""
    return {entry.name for entry in folder.iterdir()} if folder.is_dir() else set()
