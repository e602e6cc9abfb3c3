"""Finding data files and reading them into memory, with the checks that name the bad file.

Where a data set is looked for: the ``data_dir`` argument when it is given, and nowhere else (a
mistyped folder is an error, not another copy or a download); without it, in order
(:func:`search_dirs`):

1. the user cache: ``$NAS_DATA_DIR/<name>``, else the platform's user cache folder
   (``platformdirs``): ``$XDG_CACHE_HOME/oneshot-nas/<name>`` or ``~/.cache/oneshot-nas/<name>``
   on Linux, ``~/Library/Caches/oneshot-nas`` on macOS, ``%LOCALAPPDATA%\\oneshot-nas\\Cache``
   on Windows (downloads go here);
2. system-wide copies, e.g. Debian's ``/usr/share/datasets/fashion-mnist``.

:func:`~._download.locate` tries them in this order, then downloads.

Checksums: a ``SHA256SUMS`` file (``sha256sum`` format) next to the data is always honoured: the
bytes already read are hashed (about 1 GB/s), so a corrupt file is caught on every load.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import platformdirs

from ._errors import DataError

Log = Callable[[str], None]
SUMS_FILE = "SHA256SUMS"


def cache_root() -> Path:
    """The user data cache: ``$NAS_DATA_DIR``, else the platform's user cache folder for
    ``oneshot-nas`` (on Linux ``$XDG_CACHE_HOME/oneshot-nas``, else ``~/.cache/oneshot-nas``)."""
    if os.environ.get("NAS_DATA_DIR"):
        return Path(os.environ["NAS_DATA_DIR"]).expanduser()
    return Path(platformdirs.user_cache_dir("oneshot-nas", appauthor=False)).expanduser()


def dataset_cache(name: str) -> Path:
    """Where data set ``name`` is cached and downloaded to."""
    return cache_root() / name


def search_dirs(name: str, system: Sequence[Path] = ()) -> list[Path]:
    """Candidate folders for data set ``name`` when no ``data_dir`` is given, in the order they
    are tried."""
    return [dataset_cache(name), *system]


def find_first(dirs: Sequence[Path], resolve: Callable[[Path], Path | None]) -> Path | None:
    """The first ``resolve(d)`` that is not None: the folder that really holds the files."""
    for d in dirs:
        found = resolve(d) if d.is_dir() else None
        if found is not None:
            return found
    return None


def read_bytes(path: Path, max_bytes: int | None = None) -> bytearray:
    """The whole file as a writable buffer (``torch.frombuffer`` can then share it, no copy);
    a file over ``max_bytes`` is a :class:`DataError` before anything is read."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if max_bytes is not None and size > max_bytes:
                raise DataError(f"{path}: {size:,} bytes, more than the {max_bytes:,} this file can "
                                "hold: not the official file")
            buf = bytearray(size)
            got = f.readinto(buf)
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from e
    if got != len(buf):
        raise DataError(f"{path}: truncated while reading ({got} of {len(buf)} bytes)")
    return buf


def gunzip(data: bytes | bytearray, path: Path, max_bytes: int) -> bytearray:
    """Decompress gzip ``data`` read from ``path``, at most ``max_bytes`` of output (a gzip bomb
    stops there); a corrupt, cut-off or oversized file names ``path``."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: corrupt or truncated gzip file ({e}); delete it and "
                        "provide it again") from e
    if len(out) > max_bytes:
        raise DataError(f"{path}: decompresses to more than the {max_bytes:,} bytes this file can "
                        "hold: not the official file")
    return bytearray(out)


def file_digests(path: Path, algorithms: Iterable[str]) -> dict[str, str]:
    """``{algorithm: hex digest}`` of the file ``path``, read once in chunks."""
    hashes = {a: hashlib.new(a) for a in algorithms}
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            for h in hashes.values():
                h.update(chunk)
    return {a: h.hexdigest() for a, h in hashes.items()}


def digest(data: bytes | bytearray | memoryview, algorithm: str = "sha256") -> str:
    return hashlib.new(algorithm, data).hexdigest()


def check_digest(data: bytes | bytearray | memoryview, expected: str | None, path: Path | str,
                 algorithm: str = "sha256") -> None:
    """Raise a :class:`DataError` naming ``path`` (a file or URL) when ``data`` does not hash to
    ``expected``."""
    if expected is None:
        return
    actual = digest(data, algorithm)
    if actual != expected.lower():
        raise DataError(f"{path}: {algorithm.upper()} checksum mismatch (expected {expected}, "
                        f"got {actual}): the file is corrupt or not the official one; delete it "
                        "and provide it again")


def read_sums(folder: Path) -> dict[str, str]:
    """``{file name: sha256}`` from ``folder/SHA256SUMS``; empty when there is none."""
    path = folder / SUMS_FILE
    if not path.is_file():
        return {}
    sums = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split(maxsplit=1)
        if len(parts) == 2 and len(parts[0]) == 64:
            sums[parts[1].lstrip("*").strip()] = parts[0].lower()
    return sums


def read_lines(path: Path) -> list[str]:
    """Non-empty stripped lines of a text file (class-name files)."""
    try:
        return [s.strip() for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read class names ({e})") from e


def silent(_: str) -> None:
    """The default ``log``: core never prints."""
