"""A folder of images with one sub-folder per class (``DIR/<class>/<image>``), like torchvision's
``ImageFolder``.

Images are decoded with Pillow, converted to RGB (or to one channel when every image is
grayscale), resized on the shorter side and centre-cropped to ``image_size`` (default 32).
Decoding is slow, so the result is cached once as a safetensors file beside a JSON manifest in
the user cache (``<cache>/folder/<hash of the folder path>/``). The manifest lists every image
file with its size and modification time, and the image size; the next load only lists the
folder (``stat`` calls), and re-decodes when anything changed. Unreadable images are skipped
and counted through ``log``; with ``strict=True`` the first one is a :class:`DataError`. Files
are opened as untrusted (``_image_file.py``): a FIFO, socket, device, dangling link or link
loop named like an image, a file of another format and a decompression bomb are unreadable
images, never a hang or a crash.

A folder has no separate test files: split ``"test"`` is a :class:`DataError`; ``"val"`` is
held out from the folder (``val_fraction``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..orphans import remove_orphans
from ._errors import DataError
from ._files import cache_root
from ._image_data import channel_stats
from ._image_file import fit_image, open_image
from ._source import Raw, Request

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff",
                            ".ppm", ".pgm", ".pbm"})
GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"})
DEFAULT_SIZE = 32  # pixels
CACHE_VERSION = 1


def read_folder(part: str, req: Request) -> Raw:
    """All images of the folder ``req.data_dir``, decoded once and cached."""
    if part == "test":
        raise DataError("the folder data set has no test files",
                        hint="use {split=val} (held out with {val_fraction}), or load a separate "
                             "test folder with {split=train} and {val_fraction=0}")
    root = _root(req)
    size = req.image_size or DEFAULT_SIZE
    listing = _listing(root, size, req)
    tensors, manifest = _cache_paths(root, size)
    raw = _load_cache(tensors, manifest, listing, req)
    if raw is None:
        raw, skipped = _decode_all(root, listing, req)
        _save_cache(tensors, manifest, listing, raw, skipped, req)
    return raw


def _root(req: Request) -> Path:
    if req.data_dir is None:
        raise DataError("the folder data set needs a folder and none was given",
                        hint="pass {data_dir=DIR}, with one sub-folder of images per class")
    if not req.data_dir.is_dir():
        raise DataError(f"{req.data_dir}: not a folder (the folder data set needs one sub-folder "
                        "of images per class)")
    return req.data_dir.resolve()


def _listing(root: Path, size: int, req: Request) -> dict:
    """What the cache must match: classes, and ``[path, bytes, mtime_ns]`` of every image.
    Sub-folders without images (hidden ones too) are not classes."""
    found = {d.name: _images_in(d) for d in sorted(root.iterdir())
             if d.is_dir() and not d.name.startswith(".")}
    classes = [c for c, images in found.items() if images]
    if len(classes) < len(found):
        req.log(f"folder: ignored sub-folders without images: "
                f"{', '.join(c for c in found if c not in classes)}")
    if not classes:
        raise DataError(f"{root}: no images found (expected {root}/<class>/<image>.png|.jpg|...)")
    if len(classes) == 1:  # refused before decoding anything (the registry checks what decodes)
        raise DataError(f"{root}: images of one class only ({classes[0]!r}); a classifier needs at "
                        "least 2", hint="give {data_dir} one sub-folder of images per class")
    files = [_entry(root, p) for c in classes for p in found[c]]
    return {"version": CACHE_VERSION, "root": str(root), "image_size": size,
            "classes": classes, "files": files}


def _images_in(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found += [Path(dirpath) / f for f in filenames
                  if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_SUFFIXES]
    return sorted(found)


def _entry(root: Path, path: Path) -> list:
    """``[path, bytes, mtime_ns]``; a dangling link or a link loop is ``[path, -1, -1]`` (listed,
    and skipped as unreadable when decoded)."""
    try:
        st = path.stat()
    except OSError:
        return [path.relative_to(root).as_posix(), -1, -1]
    return [path.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns]


def _decode_all(root: Path, listing: dict, req: Request) -> tuple[Raw, list[str]]:
    size, classes = listing["image_size"], listing["classes"]
    req.log(f"folder: decoding {len(listing['files'])} images from {root} (cached afterwards)")
    images, labels, gray, skipped = [], [], [], []
    for rel, _, _ in listing["files"]:
        decoded = _decode(root / rel, size, req.strict)
        if decoded is None:
            skipped.append(rel)
            continue
        images.append(decoded[0])
        gray.append(decoded[1])
        labels.append(classes.index(rel.split("/", 1)[0]))
    if not images:
        raise DataError(f"{root}: none of the {len(skipped)} image files could be decoded")
    _report_skipped(root, skipped, req)
    x = torch.stack(images)  # (N, 3, size, size)
    x = x[:, :1].contiguous() if all(gray) else x
    return Raw(x, torch.tensor(labels, dtype=torch.int64), tuple(classes), channel_stats(x)), skipped


def _decode(path: Path, size: int, strict: bool) -> tuple[torch.Tensor, bool] | None:
    """``(uint8 (3, size, size), was grayscale)``, or None for an unreadable file."""
    try:
        with open_image(path) as img:
            gray = img.mode in GRAY_MODES
            rgb = fit_image(img, "RGB", size, path)
    except DataError:
        if strict:
            raise
        return None
    pixels = torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8)
    return pixels.view(size, size, 3).permute(2, 0, 1), gray  # (3, H, W)


def _report_skipped(root: Path, skipped: list[str], req: Request) -> None:
    if skipped:
        req.log(f"folder: skipped {len(skipped)} unreadable image(s) in {root} (first: "
                f"{skipped[0]}); strict=True makes this an error")


def _cache_paths(root: Path, size: int) -> tuple[Path, Path]:
    key = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    folder = cache_root() / "folder" / key
    return folder / f"images-{size}.safetensors", folder / f"manifest-{size}.json"


def _load_cache(tensors: Path, manifest: Path, listing: dict, req: Request) -> Raw | None:
    """The cached images when the manifest matches ``listing`` exactly, else None."""
    try:
        saved = json.loads(manifest.read_text(encoding="utf-8"))
        if any(saved.get(k) != v for k, v in listing.items()):
            req.log(f"folder: {listing['root']} changed since it was cached; decoding again")
            return None
        arrays = load_file(tensors)
    except (OSError, ValueError, SafetensorError):
        return None  # no cache yet, or an unreadable one: decode
    images, labels = arrays["images"], arrays["labels"]
    if len(images) != saved["count"] or (req.strict and saved["skipped"]):
        return None  # strict: decode again, to raise on the first unreadable file
    req.log(f"folder: {len(images)} images from the cache {tensors}")
    _report_skipped(Path(listing["root"]), saved["skipped"], req)
    stats = (tuple(saved["mean"]), tuple(saved["std"]))
    return Raw(images, labels, tuple(listing["classes"]), stats)


def _save_cache(tensors: Path, manifest: Path, listing: dict, raw: Raw, skipped: list[str],
                req: Request) -> None:
    """Tensors first, manifest last, each written to a temporary file and renamed."""
    mean, std = raw.stats
    derived = {"count": len(raw.images), "skipped": skipped, "mean": mean, "std": std}
    try:
        tensors.parent.mkdir(parents=True, exist_ok=True)
        _atomic(tensors, lambda p: save_file({"images": raw.images, "labels": raw.labels}, p))
        text = json.dumps({**listing, **derived}, indent=1)
        _atomic(manifest, lambda p: Path(p).write_text(text, encoding="utf-8"))
    except OSError as e:
        req.log(f"folder: could not write the cache in {tensors.parent} ({e}); continuing")


def _atomic(path: Path, write) -> None:
    """``write(tmp)``, then rename ``tmp`` to ``path``; the temporary name carries this process's
    id, so the next writer removes what a killed one left (``nas_core.orphans``: a decoded image
    folder can be hundreds of MB)."""
    remove_orphans(path.parent, re.escape(f".{path.name}.") + r"(?P<pid>\d+)\.[A-Za-z0-9_]{8}\.tmp")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
