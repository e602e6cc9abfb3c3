"""Where a `nas run` writes: a new folder per run by default, ``runs/latest`` pointing at the last
one, the name of the run (which names its Optuna study), and starting a run folder afresh.

    runs/fashion-mnist-quick-20250314-093012/   a run (pipeline.json, supernet/, search/, ...)
    runs/latest -> fashion-mnist-quick-20250314-093012
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import datetime
from pathlib import Path

from nas_core.train import RunDirError

from ._config import RunConfig

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


def run_name(out: str | Path) -> str:
    """The name of the run in ``out``: its study's name if it was started before (so that a run
    continues its study), else the folder's own name (``runs/latest`` is the folder it points at)."""
    state = Path(out) / "pipeline.json"
    recorded = json.loads(state.read_text()).get("config", {}) if state.exists() else {}
    return recorded.get("search", {}).get("study") or Path(out).resolve().name


def clear_run_dir(out: str | Path) -> None:
    """Delete what a run folder holds, to start it afresh. Only a run's folder: one with a
    ``pipeline.json``, or a run stopped in its first phase (only ``supernet/``); a folder that
    does not exist or is empty is left as it is."""
    out = Path(out)
    if not out.is_dir():
        return
    entries = list(out.iterdir())
    if not (out / "pipeline.json").exists() and {e.name for e in entries} - {"supernet"}:
        raise RunDirError(f"{out} holds no pipeline.json, so it is not a run folder; nothing deleted",
                          hint="give another {out}")
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
