"""What a run directory records next to its artefacts: versions, git revision, the command line.

STYLE (6): a run directory stores the resolved config, the versions and the git revision next to
every artefact, so a result can be traced to the code and settings that made it.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import torch

from .train.checkpoint import atomic_write_json

PACKAGES = ("nas-core", "nas-cli", "nas-export", "torch", "optuna", "onnxruntime")


def versions() -> dict[str, str | None]:
    """Python's and each package's version (None where it is not installed)."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def git_revision() -> str | None:
    """The git revision of the checkout the code runs from, if any (``+dirty`` when modified)."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("+dirty" if dirty else "")


def write_run_info(path: str | Path, config: dict, extra: dict | None = None) -> None:
    """A JSON file with the command line, the resolved ``config``, versions, git revision, CUDA and
    torch's CPU threads (results are bitwise reproducible for a fixed count; see nas_core/threads.py)."""
    atomic_write_json(path, {
        "argv": sys.argv, "config": config, "versions": versions(), "git_revision": git_revision(),
        "cuda": torch.cuda.is_available(), "threads": torch.get_num_threads(), **(extra or {}),
    })
