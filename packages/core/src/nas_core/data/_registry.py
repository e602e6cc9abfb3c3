"""The data set registry and :func:`load_data`, the one entry point the trainer and CLI use.

Each registered name maps to a reader (``_source.py``); :func:`load_data` turns what a reader
returns into one :class:`ImageData` split, the same way for every data set: resize if asked,
statistics of the training files, the train/val split, then a subset. The files are read once
per process (``_cache.py``; :func:`clear_data_cache`), except a ``folder``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ._cache import read_once
from ._cifar import read_cifar10, read_cifar100
from ._errors import DataError
from ._files import silent
from ._folder import read_folder
from ._idx import read_fashion_mnist
from ._image_data import ImageData, channel_stats, resize_images
from ._source import DownloadProgress, Raw, Reader, Request
from ._splits import split_subset, train_val_split
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
# read on every call, not once per process: a folder may change while a process runs (its reader
# keeps a decode cache on disk that notices)
_REREAD = {"folder"}
# (channels, pixels) of the images a reader gives, known without reading a file; None: only the
# files tell (a folder is RGB or grayscale, whichever its images are)
_SHAPES: dict[str, tuple[int, int] | None] = {
    "fashion-mnist": (1, 28),
    "cifar10": (3, 32),
    "cifar100": (3, 32),
    "folder": None,
    "synthetic": (3, 32),
}


def list_datasets() -> list[str]:
    """Names accepted by :func:`load_data`, the default (``fashion-mnist``) first."""
    return [DEFAULT_DATASET] + sorted(n for n in _READERS if n != DEFAULT_DATASET)


def register_dataset(name: str, reader: Reader, shape: tuple[int, int] | None = None) -> None:
    """Add a data set: ``reader(part, request) -> Raw`` for part ``"train"`` or ``"test"``;
    ``shape``: ``(channels, pixels)`` of its images when known before reading (see
    :func:`dataset_shape`)."""
    key = _canonical(name)
    if key in _READERS:
        raise ValueError(f"data set {key!r} is already registered")
    _READERS[key] = reader
    _SHAPES[key] = shape


def dataset_shape(name: str, image_size: int | None = None) -> tuple[int, int] | None:
    """``(channels, pixels)`` of the images :func:`load_data` gives for data set ``name`` and
    ``image_size``, without reading or downloading anything; None where only the files tell
    (``folder``). Lets a caller check a model against a data set before a long read or download."""
    shape = _SHAPES.get(_known(name))
    if shape is None:
        return None
    return shape[0], image_size or shape[1]


def load_data(name: str, split: str, *, data_dir: str | Path | None = None,
              subset: int | None = None, val_fraction: float = 0.1, seed: int = 0,
              image_size: int | None = None, strict: bool = False, download: bool = True,
              log: Callable[[str], None] | None = None,
              progress: DownloadProgress | None = None) -> ImageData:
    """One split (``train``, ``val`` or ``test``) of data set ``name`` as uint8 CPU tensors.

    ``train`` and ``val`` are disjoint parts of the training files, fixed by ``seed``
    (``val_fraction`` of them are ``val``); ``test`` comes from the test files. ``subset=n``
    keeps at most ``n`` examples of the split, class-balanced. ``image_size`` resizes (pixels);
    ``strict`` turns skipped images into errors and checks official checksums of local files;
    progress and warnings go to ``log``; ``progress(done, total)`` gets the bytes of each file
    downloaded (default: ``log.progress`` where ``log`` has one, as the CLI's does). The files
    are read once per process (:func:`clear_data_cache`; a ``folder`` on every call). Raises
    :class:`DataError` with a one-line message.
    """
    req = _request(name, split, data_dir, subset, val_fraction, image_size, strict, download, log, progress)
    reader = _READERS[req.name]
    test = _part(reader, "test", req) if split == "test" else None  # fails fast if absent
    train = _part(reader, "train", req)
    mean, std = train.stats
    if test is not None:
        raw, idx = test, torch.arange(len(test.labels))
    else:
        raw, idx = train, _split_indices(train, split, val_fraction, seed)
    if subset is not None:
        idx = idx[split_subset(raw.labels[idx], subset, seed, split, len(raw.classes))]
        _note_subset(subset, len(idx), split, req)
    return ImageData(raw.images[idx], raw.labels[idx], tuple(raw.classes), mean, std,
                     req.name, split)


def _request(name: str, split: str, data_dir: str | Path | None, subset: int | None,
             val_fraction: float, image_size: int | None, strict: bool, download: bool,
             log: Callable[[str], None] | None, progress: DownloadProgress | None) -> Request:
    """Checked options; unknown names and bad values are a :class:`DataError`."""
    key = _known(name)
    _check_options(split, subset, val_fraction, image_size)
    path = Path(data_dir).expanduser() if data_dir is not None else None
    progress = progress or getattr(log, "progress", None)
    return Request(key, path, image_size, strict, download, log or silent, progress)


def _canonical(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _known(name: str) -> str:
    """The registered name of ``name``; a :class:`DataError` listing the choices if none."""
    key = _canonical(name)
    if key not in _READERS:
        raise DataError(f"unknown data set {name!r}: choose one of {', '.join(list_datasets())}")
    return key


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


def _part(reader: Reader, part: str, req: Request) -> Raw:
    """``part`` of the data set: read once per process (``_cache.py``), except :data:`_REREAD`."""
    return _read(reader, part, req) if req.name in _REREAD else read_once(reader, part, req, _read)


def _read(reader: Reader, part: str, req: Request) -> Raw:
    """What ``reader`` gives for ``part``, resized to ``req.image_size`` if that differs; the
    training files with their channel statistics."""
    raw = reader(part, req)
    if len(raw.labels) == 0:
        raise DataError(f"{req.name}: the {part} files hold no images")
    if part == "train":
        _require_two_classes(raw, req)
    size = req.image_size
    if size is not None and raw.images.shape[-2:] != (size, size):
        raw = Raw(resize_images(raw.images, size), raw.labels, raw.classes)
    if part == "train" and raw.stats is None:
        raw = Raw(raw.images, raw.labels, raw.classes, channel_stats(raw.images))
    return raw


def _require_two_classes(raw: Raw, req: Request) -> None:
    """A classifier needs images of at least 2 classes: a data set of one class (a folder with one
    sub-folder, files whose labels are all the same) would train to a constant answer."""
    present = raw.labels.unique()
    if len(present) < 2:
        k = int(present[0])
        only = raw.classes[k] if 0 <= k < len(raw.classes) else k
        where = f" in {req.data_dir}" if req.data_dir is not None else ""
        hint = "give {data_dir} one sub-folder of images per class" if req.name == "folder" else ""
        raise DataError(f"{req.name}: the training images{where} are all of one class ({only!r}); a "
                        "classifier needs at least 2", hint=hint)


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
