"""The files of a data set are read once per process: :func:`read_once` keeps what a reader returns.

A run loads ``train``, ``val`` and ``test``; ``train`` and ``val`` both come from the training
files and ``test`` needs their statistics too, so without this the training files were read (and
said to be read) three times. What is kept: the uint8 tensors of each part, resized (Fashion-MNIST
about 55 MB, CIFAR about 180 MB), keyed by the reader, data set, ``data_dir`` (resolved), user
cache folder, ``image_size`` and ``strict``. Only this process keeps them: another process (a
later run, a search worker) reads the files again, so files changed on disk between runs are
always seen; within one process, :func:`clear_data_cache` forgets them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ._files import Log, cache_root
from ._source import Raw, Reader, Request

_PARTS: dict[tuple, Raw] = {}  # key + (part,) -> what was read
_SAID: dict[tuple, set[str]] = {}  # key -> the log lines already given for this data set


def clear_data_cache() -> None:
    """Forget every data set read by this process: the next ``load_data`` reads the files again."""
    _PARTS.clear()
    _SAID.clear()


def read_once(reader: Reader, part: str, req: Request,
              read: Callable[[Reader, str, Request], Raw]) -> Raw:
    """``read(reader, part, req)`` the first time this process asks for this part of this data set,
    then the same :class:`Raw` again. A line the reader logs is logged once per data set (the
    test files are in the same folder as the training files: "reading DIR" is said once)."""
    key = _key(reader, req)
    if key + (part,) not in _PARTS:
        said = _SAID.setdefault(key, set())
        _PARTS[key + (part,)] = read(reader, part, replace(req, log=_once(req.log, said)))
    return _PARTS[key + (part,)]


def _key(reader: Reader, req: Request) -> tuple:
    data_dir = req.data_dir.resolve() if req.data_dir is not None else None
    return reader, req.name, data_dir, cache_root(), req.image_size, req.strict


def _once(log: Log, said: set[str]) -> Log:
    def say(message: str) -> None:
        if message not in said:
            said.add(message)
            log(message)

    return say
