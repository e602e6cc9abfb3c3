"""Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017) from the official IDX files: the default data set.

Files: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, each raw or ``.gz``. Looked for in ``data_dir``, the user cache,
then Debian's ``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``),
else downloaded once into the user cache.

Checksums: :data:`CONTENT_SHA256` are SHA-256 digests of the *decompressed* IDX bytes. Debian
re-compresses the official ``.gz`` files (their gzip time stamp is the package date), so the
archives differ byte for byte while the data is the same; these digests match both, and the
MD5s of the raw files that torchvision publishes. Downloads are always verified; local copies
only with ``strict=True`` (or by a ``SHA256SUMS`` file next to them).

IDX format (LeCun et al.): magic ``00 00 08 <ndim>`` (``08`` = unsigned byte), ``ndim``
big-endian uint32 sizes, then the data, row-major.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import torch

from ._download import download_all, locate
from ._errors import DataError
from ._files import check_digest, dataset_cache, gunzip, read_bytes, read_sums
from ._source import Raw, Request

NAME = "fashion-mnist"
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FILES = {  # part -> (images, labels)
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CONTENT_SHA256 = {  # of the decompressed files; see the module docstring
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"  # the official README's
SYSTEM_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)
HOW_TO_PROVIDE = ("pass {data_dir=DIR} (a folder with the 4 IDX files), set $NAS_DATA_DIR, or "
                  "run `apt-get install dataset-fashion-mnist`")  # an InputError hint
_UBYTE = 0x08


def read_fashion_mnist(part: str, req: Request) -> Raw:
    """The ``part`` ("train" or "test") of Fashion-MNIST: uint8 (N, 1, 28, 28), 10 classes."""
    folder = _locate(req)
    image_base, label_base = FILES[part]
    sums = read_sums(folder)
    images = _read_idx(folder, image_base, 3, req.strict, sums)  # (N, 28, 28)
    labels = _read_idx(folder, label_base, 1, req.strict, sums).long()  # (N,)
    if len(images) != len(labels):
        raise DataError(f"{folder}: {image_base} has {len(images)} images but {label_base} has "
                        f"{len(labels)} labels")
    if len(labels) and int(labels.max()) >= len(CLASSES):
        raise DataError(f"{folder / label_base}: label {int(labels.max())} is not in 0..9")
    return Raw(images.unsqueeze(1), labels, CLASSES)


def parse_idx(data: bytearray, path: Path, ndim: int) -> torch.Tensor:
    """An IDX file's uint8 array of ``ndim`` dimensions (shares ``data``'s memory)."""
    header = 4 + 4 * ndim
    if len(data) < 4:
        raise DataError(f"{path}: truncated IDX file ({len(data)} bytes)")
    if bytes(data[:4]) != bytes((0, 0, _UBYTE, ndim)):
        raise DataError(f"{path}: wrong IDX magic number 0x{bytes(data[:4]).hex()} (expected "
                        f"0x000008{ndim:02x}: unsigned bytes, {ndim} dimensions)")
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes)")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + math.prod(shape)
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "too long"
        raise DataError(f"{path}: {what}: {len(data)} bytes, expected {expected} for shape "
                        f"{shape}; delete it and provide it again")
    if math.prod(shape) == 0:
        return torch.zeros(shape, dtype=torch.uint8)
    return torch.frombuffer(data, dtype=torch.uint8, offset=header).view(shape)


def _read_idx(folder: Path, base: str, ndim: int, strict: bool,
              sums: dict[str, str]) -> torch.Tensor:
    path = _file(folder, base)
    data = read_bytes(path)
    check_digest(data, sums.get(path.name), path)
    if path.suffix == ".gz":
        data = gunzip(data, path)
    if strict:
        check_digest(data, CONTENT_SHA256[base], path)
    return parse_idx(data, path, ndim)


def _file(folder: Path, base: str) -> Path:
    for path in (folder / base, folder / f"{base}.gz"):
        if path.is_file():
            return path
    raise DataError(f"{folder}: no {base} or {base}.gz; Fashion-MNIST needs the 4 official IDX "
                    "files there")


def _resolve(d: Path) -> Path | None:
    """``d`` itself, ``d/fashion-mnist`` or torchvision's ``d/FashionMNIST/raw`` if it has any
    Fashion-MNIST file (a missing one is then reported by name)."""
    for folder in (d, d / NAME, d / "FashionMNIST" / "raw"):
        bases = [b for pair in FILES.values() for b in pair]
        if any((folder / b).is_file() or (folder / f"{b}.gz").is_file() for b in bases):
            return folder
    return None


def _locate(req: Request) -> Path:
    return locate(NAME, "Fashion-MNIST", req, _resolve, hint=HOW_TO_PROVIDE,
                  download=lambda: _download(req), system_dirs=SYSTEM_DIRS)


def _download(req: Request) -> Path:
    dest = dataset_cache(NAME)
    bases = [b for pair in FILES.values() for b in pair]
    urls = {f"{b}.gz": f"{BASE_URL}{b}.gz" for b in bases}
    expected = {f"{b}.gz": CONTENT_SHA256[b] for b in bases}
    download_all(urls, dest, expected, gzip_content=True, log=req.log, progress=req.progress)
    return dest
