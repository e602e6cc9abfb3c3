"""CIFAR-10 and CIFAR-100 (Krizhevsky, 2009) from the official *binary* files.

Records: CIFAR-10 is 1 label byte + 3,072 pixel bytes (1,024 red, 1,024 green, 1,024 blue,
row-major 32x32); CIFAR-100 is 2 label bytes (coarse, fine) + 3,072 pixel bytes, and the fine
label is used. ``data_dir`` may be the folder itself (``.../cifar-10-batches-bin``) or its parent.

Downloads fetch the official ``.tar.gz`` (HTTPS), stop past its known size, and verify its
SHA-256 and MD5 before anything is extracted: the official site
(https://www.cs.toronto.edu/~kriz/cifar.html) publishes MD5s only; the sizes and SHA-256s are
those tensorflow_datasets pins (``url_checksums/cifar10.txt``, ``cifar100.txt``). Then only the
files below are extracted. A ``SHA256SUMS`` file in the folder is always honoured; a data file
over :data:`MAX_RECORDS` records is refused before it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ._download import Remote, download_verified, extract_members, locate
from ._errors import DataError
from ._files import check_digest, dataset_cache, read_lines, read_sums
from ._source import Raw, Request

PIXELS = 3 * 32 * 32  # bytes per image
MAX_RECORDS = 100_000  # per file: twice the largest official file (CIFAR-100's train.bin)


@dataclass(frozen=True)
class CifarSpec:
    """Where a CIFAR variant's files are and how its records are laid out."""

    name: str
    title: str
    folder: str  # the folder inside the official archive
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    label_bytes: int  # bytes before the pixels of each record
    label_index: int  # which of them is the label used
    num_classes: int
    meta_file: str  # class names, one per line, in label order
    url: str
    size: int  # bytes of the official archive
    sha256: str  # of the official archive
    md5: str  # of the official archive (the one the official site publishes)

    @property
    def record_size(self) -> int:
        return self.label_bytes + PIXELS


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
SPECS = {
    "cifar10": CifarSpec(
        "cifar10", "CIFAR-10", "cifar-10-batches-bin",
        tuple(f"data_batch_{i}.bin" for i in range(1, 6)), ("test_batch.bin",),
        label_bytes=1, label_index=0, num_classes=10, meta_file="batches.meta.txt",
        url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", size=170_052_171,
        sha256="c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
        md5="c32a1d4ab5d03f1284b67883e8d87530"),
    "cifar100": CifarSpec(
        "cifar100", "CIFAR-100", "cifar-100-binary", ("train.bin",), ("test.bin",),
        label_bytes=2, label_index=1, num_classes=100, meta_file="fine_label_names.txt",
        url="https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz", size=168_513_733,
        sha256="58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec",
        md5="03b5dce01913d631647c71ecec9e9cb8"),
}


def read_cifar10(part: str, req: Request) -> Raw:
    return read_cifar(SPECS["cifar10"], part, req)


def read_cifar100(part: str, req: Request) -> Raw:
    return read_cifar(SPECS["cifar100"], part, req)


def read_cifar(spec: CifarSpec, part: str, req: Request) -> Raw:
    """The ``part`` ("train" or "test") of a CIFAR variant: uint8 (N, 3, 32, 32)."""
    folder = _locate(spec, req)
    files = spec.train_files if part == "train" else spec.test_files
    paths = [_require(spec, folder, f, part) for f in files]
    records = _read_records(spec, paths, read_sums(folder))  # (N, record_size)
    labels = records[:, spec.label_index].long()
    if len(labels) and int(labels.max()) >= spec.num_classes:
        raise DataError(f"{folder}: label {int(labels.max())} is out of range for "
                        f"{spec.title} ({spec.num_classes} classes): wrong data set?")
    images = records[:, spec.label_bytes:].reshape(-1, 3, 32, 32)  # copies: contiguous
    return Raw(images, labels, _classes(spec, folder))


def _read_records(spec: CifarSpec, paths: list[Path], sums: dict[str, str]) -> torch.Tensor:
    """All records of ``paths``, read into one buffer (no concatenation copy)."""
    sizes = [_checked_size(spec, p) for p in paths]
    buf = bytearray(sum(sizes))
    view, offset = memoryview(buf), 0
    for path, size in zip(paths, sizes):
        part = view[offset:offset + size]
        with open(path, "rb") as f:
            got = f.readinto(part)
        if got != size:
            raise DataError(f"{path}: truncated while reading ({got} of {size} bytes)")
        check_digest(part, sums.get(path.name), path)
        offset += size
    return torch.frombuffer(buf, dtype=torch.uint8).view(-1, spec.record_size)


def _checked_size(spec: CifarSpec, path: Path) -> int:
    size = path.stat().st_size
    if size > MAX_RECORDS * spec.record_size:
        raise DataError(f"{path}: {size:,} bytes is more than {MAX_RECORDS:,} {spec.title} records "
                        "(twice the largest official file): not a CIFAR file")
    if size == 0 or size % spec.record_size:
        raise DataError(f"{path}: {size} bytes is not a whole number of {spec.record_size}-byte "
                        f"{spec.title} records (truncated, or another CIFAR variant?)")
    return size


def _classes(spec: CifarSpec, folder: Path) -> tuple[str, ...]:
    path = folder / spec.meta_file
    if not path.is_file():
        names = CIFAR10_CLASSES if spec.name == "cifar10" else ()
        return names or tuple(f"class_{i}" for i in range(spec.num_classes))
    names = tuple(read_lines(path))
    if len(names) != spec.num_classes:
        raise DataError(f"{path}: {len(names)} class names, expected {spec.num_classes}")
    return names


def _require(spec: CifarSpec, folder: Path, file: str, part: str) -> Path:
    path = folder / file
    if path.is_file():
        return path
    if part == "test":
        raise DataError(f"{folder} has no {file}, so {spec.title} has no test split here",
                        hint="put the official test file there, or evaluate on {split=val}")
    raise DataError(f"{folder}: missing {file} (the {spec.title} training files are "
                    f"{', '.join(spec.train_files)})")


def _resolve(spec: CifarSpec, d: Path) -> Path | None:
    """``d`` or ``d/<official folder>`` if it holds any of the variant's data files."""
    for folder in (d / spec.folder, d):
        if any((folder / f).is_file() for f in spec.train_files + spec.test_files):
            return folder
    return None


def _locate(spec: CifarSpec, req: Request) -> Path:
    hint = (f"pass {{data_dir=DIR}} ({spec.folder} or its parent), set $NAS_DATA_DIR, or allow "
            f"the download of {spec.url}")
    return locate(spec.name, spec.title, req, lambda d: _resolve(spec, d), hint=hint,
                  expects=f"the {spec.title} binary files in DIR or DIR/{spec.folder}",
                  download=lambda: _download(spec, req))


def _download(spec: CifarSpec, req: Request) -> Path:
    dest = dataset_cache(spec.name)
    archive = dest / spec.url.rsplit("/", 1)[1]
    remote = Remote((spec.url,), spec.size, {"sha256": spec.sha256, "md5": spec.md5})
    download_verified(remote, archive, log=req.log, progress=req.progress)
    req.log(f"{spec.name}: extracting {archive}")
    files = spec.train_files + spec.test_files
    folder = extract_members(archive, dest, spec.folder, files + (spec.meta_file,), files)
    archive.unlink()
    return folder
