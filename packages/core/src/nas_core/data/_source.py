"""What a data set reader is given (:class:`Request`) and gives back (:class:`Raw`).

A reader is a function ``reader(part, request) -> Raw`` where ``part`` is ``"train"`` (the
training files, from which ``train`` and ``val`` are split) or ``"test"`` (the test files).
Splitting, subsets and statistics are done once, for every reader, in ``_registry.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ._files import Log

PARTS = ("train", "test")
DownloadProgress = Callable[[int, int | None], None]
"""``progress(done, total)``: bytes of the file being downloaded so far, and its size (None when the
server does not say). Called with ``done=0`` when a file starts, after each chunk, and a last time
with ``done == total`` when it is complete (``total``: the bytes received, where the size was unknown)."""


@dataclass(frozen=True)
class Request:
    """The options of ``load_data`` that readers need."""

    name: str
    data_dir: Path | None
    image_size: int | None  # pixels; None = the data set's own size (32 for folder/synthetic)
    strict: bool
    download: bool
    log: Log
    progress: DownloadProgress | None = None  # of downloads, in bytes; None: not reported


@dataclass(frozen=True, eq=False)
class Raw:
    """All images of one part of a data set, as read from its files."""

    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor  # int64 (N,)
    classes: tuple[str, ...]
    stats: tuple[tuple[float, ...], tuple[float, ...]] | None = None  # cached (mean, std)


Reader = Callable[[str, Request], Raw]
