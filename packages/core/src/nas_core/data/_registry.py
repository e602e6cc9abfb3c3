"""The data set registry and :func:`load_data`, the one entry point the trainer and CLI use.

Each registered name maps to a reader (``_source.py``); :func:`load_data` turns what a reader
returns into one :class:`ImageData` split, the same way for every data set: resize if asked,
statistics of the training files, the train/val split, then a subset.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ._cifar import read_cifar10, read_cifar100
from ._errors import DataError
from ._files import silent
from ._folder import read_folder
from ._idx import read_fashion_mnist
from ._image_data import ImageData, channel_stats, resize_images
from ._source import Raw, Reader, Request
from ._splits import balanced_subset, train_val_split
from ._synthetic import read_synthetic

DEFAULT_DATASET = "fashion-mnist"
SPLITS = ("train", "val", "test")
_READERS: dict[str, Reader] = {
    "fashion-mnist": read_fashion_mnist,
    "cifar10": read_cifar10,
    "cifar100": read_cifar100,
    "folder": read_folder,
    "synthetic": read_synthetic,
}


def list_datasets() -> list[str]:
    """Names accepted by :func:`load_data`, the default (``fashion-mnist``) first."""
    return [DEFAULT_DATASET] + sorted(n for n in _READERS if n != DEFAULT_DATASET)


def register_dataset(name: str, reader: Reader) -> None:
    """Add a data set: ``reader(part, request) -> Raw`` for part ``"train"`` or ``"test"``."""
    key = _canonical(name)
    if key in _READERS:
        raise ValueError(f"data set {key!r} is already registered")
    _READERS[key] = reader


def load_data(name: str, split: str, *, data_dir: str | Path | None = None,
              subset: int | None = None, val_fraction: float = 0.1, seed: int = 0,
              image_size: int | None = None, strict: bool = False, download: bool = True,
              log: Callable[[str], None] | None = None) -> ImageData:
    """One split (``train``, ``val`` or ``test``) of data set ``name`` as uint8 CPU tensors.

    ``train`` and ``val`` are disjoint parts of the training files, fixed by ``seed``
    (``val_fraction`` of them are ``val``); ``test`` comes from the test files. ``subset=n``
    keeps at most ``n`` examples of the split, class-balanced. ``image_size`` resizes (pixels);
    ``strict`` turns skipped images into errors and checks official checksums of local files;
    progress and warnings go to ``log``. Raises :class:`DataError` with a one-line message.
    """
    req = _request(name, split, data_dir, subset, val_fraction, image_size, strict, download, log)
    reader = _READERS[req.name]
    test = _read(reader, "test", req) if split == "test" else None  # fails fast if absent
    train = _read(reader, "train", req)
    mean, std = train.stats or channel_stats(train.images)
    if test is not None:
        raw, idx = test, torch.arange(len(test.labels))
    else:
        raw, idx = train, _split_indices(train, split, val_fraction, seed)
    if subset is not None:
        idx = idx[balanced_subset(raw.labels[idx], subset, seed, f"subset-{split}",
                                  len(raw.classes))]
        _note_subset(subset, len(idx), split, req)
    return ImageData(raw.images[idx], raw.labels[idx], tuple(raw.classes), mean, std,
                     req.name, split)


def _request(name: str, split: str, data_dir: str | Path | None, subset: int | None,
             val_fraction: float, image_size: int | None, strict: bool, download: bool,
             log: Callable[[str], None] | None) -> Request:
    """Checked options; unknown names and bad values are a :class:`DataError`."""
    key = _canonical(name)
    if key not in _READERS:
        raise DataError(f"unknown data set {name!r}: choose one of {', '.join(list_datasets())}")
    _check_options(split, subset, val_fraction, image_size)
    path = Path(data_dir).expanduser() if data_dir is not None else None
    return Request(key, path, image_size, strict, download, log or silent)


def _canonical(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _check_options(split: str, subset: int | None, val_fraction: float,
                   image_size: int | None) -> None:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
    if subset is not None and subset < 1:
        raise DataError(f"subset must be a positive number of examples, got {subset}")
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if image_size is not None and image_size < 1:
        raise DataError(f"image_size must be a positive number of pixels, got {image_size}")


def _read(reader: Reader, part: str, req: Request) -> Raw:
    """What ``reader`` gives for ``part``, resized to ``req.image_size`` if that differs."""
    raw = reader(part, req)
    if len(raw.labels) == 0:
        raise DataError(f"{req.name}: the {part} files hold no images")
    size = req.image_size
    if size is None or raw.images.shape[-2:] == (size, size):
        return raw
    return Raw(resize_images(raw.images, size), raw.labels, raw.classes)


def _split_indices(train: Raw, split: str, val_fraction: float, seed: int) -> torch.Tensor:
    train_idx, val_idx = train_val_split(train.labels, val_fraction, seed, len(train.classes))
    idx = train_idx if split == "train" else val_idx
    if len(idx) == 0:
        raise DataError(f"split {split!r} is empty with val_fraction={val_fraction}",
                        hint="choose {val_fraction} between 0 and 1")
    return idx


def _note_subset(subset: int, n: int, split: str, req: Request) -> None:
    if n < subset:
        req.log(f"{req.name}: subset={subset} is more than split {split!r} holds; using all {n}")
