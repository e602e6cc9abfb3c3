"""Downloading data files once, verified, into the user cache.

A download is written to a temporary file in the destination folder, its checksum checked,
and only then renamed into place (``os.replace`` is atomic), so an interrupted or corrupt
download never looks like data. :func:`fetch_url` is the only function that touches the
network (bytes go to an optional ``progress(done, total)``, :data:`~._source.DownloadProgress`);
tests replace it with a local copy. :func:`locate` is what readers call: the data
set's folder found locally (:func:`~._files.search_dirs`), else downloaded.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ._errors import DataError
from ._files import Log, check_digest, find_first, gunzip, read_bytes, search_dirs
from ._source import DownloadProgress, Request

TIMEOUT_S = 60  # seconds without data before a download is abandoned
CHUNK = 1 << 18  # bytes read between two progress reports


class DownloadFailed(DataError):
    """The network part of a download failed (offline, HTTP error): callers add how else to
    provide the data. A checksum mismatch is a plain :class:`DataError`."""


def locate(name: str, title: str, req: Request, resolve: Callable[[Path], Path | None], *,
           hint: str, download: Callable[[], Path], system_dirs: Sequence[Path] = ()) -> Path:
    """The folder that holds data set ``name``: the first folder of :func:`search_dirs` that
    ``resolve`` accepts, else ``download()`` when ``req.download``. Says through ``req.log``
    which folder is read, and when ``data_dir`` held nothing and another copy is used. A
    :class:`DataError` lists the folders tried; its ``hint`` says how else to provide the data.
    """
    dirs = search_dirs(name, req.data_dir, system_dirs)
    found = find_first(dirs, resolve)
    if found is not None:
        if req.data_dir is not None and not found.is_relative_to(req.data_dir):
            req.log(f"{name}: no {title} files in {req.data_dir}; using {found}")
        req.log(f"{name}: reading {found}")
        return found
    missing = f"{title} not found (looked in {', '.join(str(d) for d in dirs)})"
    if not req.download:
        raise DataError(f"{missing} and download=False", hint=hint)
    try:
        return download()
    except DownloadFailed as e:
        raise DataError(f"{missing} and the {e.message}", hint=hint) from e


def fetch_url(url: str, dest: Path, progress: DownloadProgress | None = None) -> None:
    """Copy ``url`` to the file ``dest`` (raises ``OSError``/``URLError`` when offline), reporting
    the bytes copied to ``progress``."""
    report = progress or _ignore
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(dest, "wb") as f:
        total, done = _content_length(response), 0
        report(0, total)
        while chunk := response.read(CHUNK):
            f.write(chunk)
            done += len(chunk)
            report(done, total)
    if done != total:
        report(done, done)  # the size was unknown (or wrong): the last call says it is complete


def download_verified(url: str, dest: Path, expected: str, *, algorithm: str = "sha256",
                      gzip_content: bool = False, log: Log, progress: DownloadProgress | None = None) -> None:
    """Download ``url`` to ``dest``, verified against the ``expected`` hex digest; bytes go to
    ``progress`` as they arrive.

    ``gzip_content=True`` hashes the decompressed bytes instead of the archive (gzip headers
    carry a time stamp, so re-compressed copies of the same data differ byte for byte).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    log(f"downloading {url} -> {dest}")
    tmp = _temp_path(dest)
    try:
        _fetch(url, tmp, progress)
        data = read_bytes(tmp)
        check_digest(gunzip(data, tmp) if gzip_content else data, expected, url, algorithm)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def download_all(urls: dict[str, str], dest: Path, expected: dict[str, str], *,
                 gzip_content: bool = False, log: Log, progress: DownloadProgress | None = None) -> None:
    """Download ``{file name: url}`` into ``dest``: all files are fetched and verified into a
    staging folder first, then moved in, so a failure leaves no partial copy behind. Each file's
    bytes are reported to ``progress``."""
    dest.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".download-", dir=dest))
    try:
        for name, url in urls.items():
            download_verified(url, stage / name, expected[name], gzip_content=gzip_content,
                              log=log, progress=progress)
        for name in urls:
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
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
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


def _fetch(url: str, tmp: Path, progress: DownloadProgress | None) -> None:
    try:
        fetch_url(url, tmp, progress)
    except OSError as e:  # URLError, timeouts and HTTP errors are all OSErrors
        raise DownloadFailed(f"download of {url} failed: {getattr(e, 'reason', e)}") from e


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
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    return Path(name)

