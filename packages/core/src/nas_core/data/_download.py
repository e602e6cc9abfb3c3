"""Downloading data files once, verified, into the user cache.

A file to download is a :class:`Remote`: its mirrors (tried in order, HTTPS first), its size and
the digests of its bytes as served. Each attempt is written to a temporary file in the destination
folder, capped at the known size while it arrives, its size and digests checked (before anything
is decompressed or extracted), and only then renamed into place (``os.replace`` is atomic), so an
interrupted, oversized or corrupt download never looks like data. A mirror that fails (offline,
HTTP error, wrong bytes) hands over to the next. :func:`fetch_url` is the only function that
touches the network (bytes go to an optional ``progress(done, total)``,
:data:`~._source.DownloadProgress`); tests replace it with a local copy. :func:`locate` is what
readers call: the folder ``data_dir`` names (and nothing else) when given, else the data set's
folder found locally (:func:`~._files.search_dirs`), else downloaded.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..orphans import remove_orphans
from ._errors import DataError
from ._files import Log, file_digests, find_first, search_dirs
from ._source import DownloadProgress, Request

TIMEOUT_S = 60  # seconds without data before a download is abandoned
CHUNK = 1 << 18  # bytes read between two progress reports
# Names of the temporary folders and files of a download, with the id of the process writing them
# (so that the next download removes what a killed one left: ``nas_core.orphans``).
STAGE = r"\.(download|extract)-(?P<pid>\d+)-[^/]+"
PART = r"(?P<pid>\d+)\.[^/]+\.part"


class DownloadFailed(DataError):
    """The network part of a download failed (offline, HTTP error): callers add how else to
    provide the data. Wrong bytes (size, checksum) are a plain :class:`DataError`."""


@dataclass(frozen=True)
class Remote:
    """One file to download: where from, and what its bytes must be."""

    urls: tuple[str, ...]  # mirrors, tried in order (HTTPS first)
    size: int  # bytes, as served: a download stops past it
    digests: dict[str, str] = field(default_factory=dict)  # hashlib name -> hex digest, as served

    def __post_init__(self) -> None:
        if not self.urls or not self.digests:
            raise ValueError("a Remote needs at least one URL and one digest")


def locate(name: str, title: str, req: Request, resolve: Callable[[Path], Path | None], *,
           hint: str, expects: str, download: Callable[[], Path],
           system_dirs: Sequence[Path] = ()) -> Path:
    """The folder that holds data set ``name``: with ``req.data_dir``, what ``resolve`` finds
    there or a :class:`DataError` naming it (``expects``: what it should hold); else the first
    folder of :func:`search_dirs` that ``resolve`` accepts, else ``download()`` when
    ``req.download``. Says through ``req.log`` which folder is read. Without ``data_dir``, a
    :class:`DataError` lists the folders tried; its ``hint`` says how else to provide the data.
    """
    if req.data_dir is not None:
        found = _in_data_dir(req.data_dir, title, resolve, expects)
    else:
        dirs = search_dirs(name, system_dirs)
        found = find_first(dirs, resolve)
        if found is None:
            return _download(title, dirs, req, hint, download)
    req.log(f"{name}: reading {found}")
    return found


def _in_data_dir(data_dir: Path, title: str, resolve: Callable[[Path], Path | None],
                 expects: str) -> Path:
    """An explicit ``data_dir`` is the only place looked in: a mistyped one is an error, never
    another copy or a download."""
    hint = "correct {data_dir=DIR}, or leave {data_dir} out to use the user cache (downloaded once)"
    if not data_dir.is_dir():
        what = "not a folder" if data_dir.exists() else "no such folder"
        raise DataError(f"{data_dir}: {what} (expected {expects})", hint=hint)
    found = resolve(data_dir)
    if found is None:
        raise DataError(f"{data_dir}: no {title} files there (expected {expects})", hint=hint)
    return found


def _download(title: str, dirs: Sequence[Path], req: Request, hint: str,
              download: Callable[[], Path]) -> Path:
    missing = f"{title} not found (looked in {', '.join(str(d) for d in dirs)})"
    if not req.download:
        raise DataError(f"{missing} and download=False", hint=hint)
    try:
        return download()
    except DownloadFailed as e:
        raise DataError(f"{missing} and the {e.message}", hint=hint) from e


def fetch_url(url: str, dest: Path, progress: DownloadProgress | None = None,
              max_bytes: int | None = None) -> None:
    """Copy ``url`` to the file ``dest`` (raises ``OSError``/``URLError`` when offline), reporting
    the bytes copied to ``progress``; more than ``max_bytes`` (announced or received) is a
    :class:`DataError` and stops the transfer."""
    report = progress or _ignore
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(dest, "wb") as f:
        total, done = _content_length(response), 0
        if max_bytes is not None and total is not None and total > max_bytes:
            raise _too_large(url, f"the server announces {total:,} bytes", max_bytes)
        report(0, total)
        while chunk := response.read(CHUNK):
            done += len(chunk)
            if max_bytes is not None and done > max_bytes:
                raise _too_large(url, f"more than {max_bytes:,} bytes arrived", max_bytes)
            f.write(chunk)
            report(done, total)
    if done != total:
        report(done, done)  # the size was unknown (or wrong): the last call says it is complete


def download_verified(remote: Remote, dest: Path, *, log: Log,
                      progress: DownloadProgress | None = None) -> None:
    """Download ``remote`` to ``dest``, trying its mirrors in order until one gives the expected
    bytes (size and every digest checked before ``dest`` exists); bytes go to ``progress`` as they
    arrive. When every mirror fails: the first error about wrong bytes, else the last network
    error (:class:`DownloadFailed`)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_orphans(dest.parent, re.escape(f".{dest.name}.") + PART)
    errors: list[DataError] = []
    for i, url in enumerate(remote.urls):
        log(f"downloading {url} -> {dest}")
        tmp = _temp_path(dest)
        try:
            _fetch_checked(url, remote, tmp, progress)
            os.replace(tmp, dest)
            return
        except DataError as e:
            errors.append(e)
            if i + 1 < len(remote.urls):
                log(f"{e.message}; trying {remote.urls[i + 1]}")
        finally:
            tmp.unlink(missing_ok=True)
    raise next((e for e in errors if not isinstance(e, DownloadFailed)), errors[-1])


def download_all(remotes: dict[str, Remote], dest: Path, *, log: Log,
                 progress: DownloadProgress | None = None) -> None:
    """Download ``{file name: remote}`` into ``dest``: all files are fetched and verified into a
    staging folder first, then moved in, so a failure leaves no partial copy behind. Each file's
    bytes are reported to ``progress``."""
    dest.mkdir(parents=True, exist_ok=True)
    remove_orphans(dest, STAGE)
    remove_orphans(dest, r"\..+\." + PART)
    stage = Path(tempfile.mkdtemp(prefix=f".download-{os.getpid()}-", dir=dest))
    try:
        for name, remote in remotes.items():
            download_verified(remote, stage / name, log=log, progress=progress)
        for name in remotes:
            os.replace(stage / name, dest / name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def extract_members(archive: Path, dest: Path, folder: str, names: Iterable[str],
                    required: Iterable[str]) -> Path:
    """Extract ``folder/<name>`` for ``names`` from a ``.tar.gz`` into ``dest/folder``.

    Only the named regular files are written (never paths from the archive itself), into a
    temporary folder renamed into place at the end.
    """
    wanted = {f"{folder}/{n}": n for n in names}
    remove_orphans(dest, STAGE)
    tmp = Path(tempfile.mkdtemp(prefix=f".extract-{os.getpid()}-", dir=dest))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = wanted.get(member.name.removeprefix("./"))
                if name is not None and member.isfile():
                    _copy_member(tar, member, tmp / name)
        missing = [n for n in required if not (tmp / n).is_file()]
        if missing:
            raise DataError(f"{archive}: archive lacks {folder}/{missing[0]}; delete it and retry")
        target = dest / folder
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        return target
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"{archive}: cannot extract ({e}); delete it and retry") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _fetch_checked(url: str, remote: Remote, tmp: Path, progress: DownloadProgress | None) -> None:
    """``url`` into ``tmp``, then its size and digests checked against ``remote``."""
    try:
        fetch_url(url, tmp, progress, remote.size)
    except OSError as e:  # URLError, timeouts and HTTP errors are all OSErrors
        reason = e if isinstance(e, urllib.error.HTTPError) else getattr(e, "reason", e)  # "HTTP Error 404: ..."
        raise DownloadFailed(f"download of {url} failed: {reason}") from e
    size = tmp.stat().st_size
    if size != remote.size:
        raise DataError(f"{url}: {size:,} bytes, expected {remote.size:,}: not the official file")
    found = file_digests(tmp, remote.digests)
    for algorithm, expected in remote.digests.items():
        if found[algorithm] != expected.lower():
            raise DataError(f"{url}: {algorithm.upper()} checksum mismatch (expected {expected}, "
                            f"got {found[algorithm]}): not the official file")


def _too_large(url: str, what: str, max_bytes: int) -> DataError:
    return DataError(f"{url}: {what}, expected at most {max_bytes:,}: not the official file")


def _content_length(response) -> int | None:
    """The size the server announces (``Content-Length``), or None."""
    length = response.headers.get("Content-Length")
    return int(length) if length is not None and length.strip().isdigit() else None


def _ignore(done: int, total: int | None) -> None:
    """The default ``progress``: core never prints."""


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> None:
    source = tar.extractfile(member)
    if source is None:
        raise DataError(f"{member.name}: not a regular file in the archive")
    with source, open(dest, "wb") as f:
        shutil.copyfileobj(source, f, length=1 << 20)


def _temp_path(dest: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.{os.getpid()}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    return Path(name)

