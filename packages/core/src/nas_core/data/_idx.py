"""Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017) from the official IDX files: the default data set.

Files: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, each raw or ``.gz``. Looked for in ``data_dir`` when it is given (and
only there); else in the user cache, then Debian's ``/usr/share/datasets/fashion-mnist``
(``apt-get install dataset-fashion-mnist``), else downloaded once into the user cache.

Downloads (:data:`MIRRORS`, HTTPS first): each ``.gz`` file is checked against its official size
and SHA-256 (:data:`GZ_FILES`, as pinned by tensorflow_datasets' ``url_checksums/fashion_mnist.txt``;
the MD5s of the same files are in the official README and torchvision) *before* it is decompressed.

Local copies: :data:`CONTENT_SHA256` are SHA-256 digests of the *decompressed* IDX bytes. Debian
re-compresses the official ``.gz`` files (their gzip time stamp is the package date), so the
archives differ byte for byte while the data is the same; these digests match both, and the
MD5s of the raw files that torchvision publishes. Local copies are verified only with
``strict=True`` (or by a ``SHA256SUMS`` file next to them). Every file, raw or decompressed, may
be at most twice its official size (:data:`IDX_BYTES`): a gzip bomb stops there.

IDX format (LeCun et al.): magic ``00 00 08 <ndim>`` (``08`` = unsigned byte), ``ndim``
big-endian uint32 sizes, then the data, row-major.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import torch

from ._download import Remote, download_all, locate
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
IDX_BYTES = {  # official size of each decompressed file; a file may be at most twice this
    "train-images-idx3-ubyte": 47_040_016,
    "train-labels-idx1-ubyte": 60_008,
    "t10k-images-idx3-ubyte": 7_840_016,
    "t10k-labels-idx1-ubyte": 10_008,
}
GZ_FILES = {  # the official .gz files: (bytes, SHA-256), from tensorflow_datasets' url_checksums
    "train-images-idx3-ubyte.gz": (26_421_880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
    "train-labels-idx1-ubyte.gz": (29_515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    "t10k-images-idx3-ubyte.gz": (4_422_102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
    "t10k-labels-idx1-ubyte.gz": (5_148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
}
MIRRORS = (  # tried in order; the bytes are checked against GZ_FILES whichever serves them
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",  # the official repo
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # the official README's (no HTTPS)
)
SYSTEM_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)
HOW_TO_PROVIDE = ("pass {data_dir=DIR} (a folder with the 4 IDX files), set $NAS_DATA_DIR, or "
                  "run `apt-get install dataset-fashion-mnist`")  # an InputError hint
EXPECTS = "the 4 IDX files, raw or .gz, in DIR, DIR/fashion-mnist or DIR/FashionMNIST/raw"
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
    limit = 2 * IDX_BYTES[base]
    data = read_bytes(path, limit)
    check_digest(data, sums.get(path.name), path)
    if path.suffix == ".gz":
        data = gunzip(data, path, limit)
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
    return locate(NAME, "Fashion-MNIST", req, _resolve, hint=HOW_TO_PROVIDE, expects=EXPECTS,
                  download=lambda: _download(req), system_dirs=SYSTEM_DIRS)


def _download(req: Request) -> Path:
    dest = dataset_cache(NAME)
    remotes = {name: Remote(tuple(base + name for base in MIRRORS), size, {"sha256": sha256})
               for name, (size, sha256) in GZ_FILES.items()}
    download_all(remotes, dest, log=req.log, progress=req.progress)
    return dest
