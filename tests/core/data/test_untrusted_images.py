"""Image files as untrusted input (``_image_file.py``): only regular files of our formats, within
the pixel cap; every refusal one line naming the file, in ``open_image`` and in the ``folder``
data set (skipped and counted, or with ``strict`` an error). A FIFO must never block: each test
here runs under an alarm, so a regression fails instead of hanging the suite."""

from __future__ import annotations

import io
import os
import re
import socket
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from nas_core.data import DataError, _image_file, load_data, open_image

needs_posix = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs and sockets are POSIX")


pytestmark = pytest.mark.usefixtures("alarm")  # tests/conftest.py: fail, not hang, on a FIFO


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path / "cache"))


def bad_file(kind: str, path: Path) -> Path:
    """Create a hostile ``path`` of ``kind``; returns it."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))  # the socket file stays after the test's tmp_path is gone
        server.close()
    elif kind == "dangling link":
        path.symlink_to(path.with_name("nowhere.png"))
    elif kind == "link loop":
        path.symlink_to(path.with_name("partner"))  # not an image name: only ``path`` is listed
        path.with_name("partner").symlink_to(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "text":
        path.write_text("not an image")
    elif kind == "icon":  # a format Pillow reads and we do not
        buf = io.BytesIO()
        Image.new("RGB", (4, 4)).save(buf, "ICO")
        path.write_bytes(buf.getvalue())
    elif kind == "bomb":  # a PNG that claims more pixels than the cap
        path.write_bytes(png_claiming(9000, 9000))
    elif kind == "huge bomb":  # above twice Pillow's own limit: its DecompressionBombError
        path.write_bytes(png_claiming(20000, 20000))
    return path


def png_claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header (IHDR) says ``width`` x ``height``: what a decompression bomb shows
    before any pixel is decoded."""
    buf = io.BytesIO()
    Image.new("1", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    start = 8 + 4  # signature, chunk length; then b"IHDR", width, height, ...
    data[start + 4:start + 12] = struct.pack(">II", width, height)
    data[start + 17:start + 21] = struct.pack(">I", zlib.crc32(bytes(data[start:start + 17])))
    return bytes(data)


CASES = [
    ("fifo", "a FIFO, not an image file"),
    ("socket", "a socket, not an image file"),
    ("dangling link", "dangling symbolic link"),
    ("link loop", "symbolic link loop"),
    ("folder", "a folder, not an image file"),
    ("text", "cannot read image (not PNG, JPEG"),
    ("icon", "cannot read image (not PNG, JPEG"),
    ("bomb", "9000x9000 pixels, more than the 67 megapixels"),
    ("huge bomb", "more pixels than the 67 megapixels"),
]


@needs_posix
@pytest.mark.parametrize("kind, message", CASES)
def test_open_image_refuses_with_one_line_naming_the_file(tmp_path, kind, message):
    path = bad_file(kind, tmp_path / "x.png")
    with pytest.raises(DataError, match=re.escape(message)) as err:
        open_image(path)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


def test_open_image_reads_every_format_we_list(tmp_path):
    for fmt, suffix in (("PNG", "png"), ("JPEG", "jpg"), ("BMP", "bmp"), ("GIF", "gif"), ("WEBP", "webp"),
                        ("TIFF", "tif"), ("PPM", "ppm")):
        assert fmt in _image_file.FORMATS
        Image.new("RGB", (6, 4), (10, 200, 30)).save(tmp_path / f"a.{suffix}", fmt)
        with open_image(tmp_path / f"a.{suffix}") as img:
            assert img.size == (6, 4)
    (tmp_path / "link.png").symlink_to(tmp_path / "a.png")  # a link to an image is fine
    assert open_image(tmp_path / "link.png").size == (6, 4)


def test_the_pixel_cap_is_checked_before_decoding(tmp_path, monkeypatch):
    Image.new("RGB", (100, 100)).save(tmp_path / "a.png")
    monkeypatch.setattr(_image_file, "MAX_PIXELS", 100 * 100)
    assert open_image(tmp_path / "a.png").size == (100, 100)
    monkeypatch.setattr(_image_file, "MAX_PIXELS", 100 * 100 - 1)
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded before the check"))
    with pytest.raises(DataError, match="100x100 pixels"):
        open_image(tmp_path / "a.png")


def make_classes(root: Path) -> Path:
    for k, name in enumerate(("a", "b")):
        (root / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (12, 12), (80 * k, 10 * i, 0)).save(root / name / f"{i}.png")
    return root


IN_A_FOLDER = ("fifo", "socket", "dangling link", "link loop", "icon", "bomb")  # a folder is not a file there


@needs_posix
@pytest.mark.parametrize("kind, message", [c for c in CASES if c[0] in IN_A_FOLDER])
def test_the_folder_data_set_skips_them_and_strict_names_them(tmp_path, kind, message):
    root = make_classes(tmp_path / "imgs")
    bad_file(kind, root / "b" / "x.png")
    messages: list[str] = []
    for _ in range(2):  # decoded, then from the cache: never opened as an image
        data = load_data("folder", "train", data_dir=root, val_fraction=0.0, log=messages.append)
        assert len(data) == 6
    assert sum("skipped 1 unreadable image(s)" in m and "b/x.png" in m for m in messages) == 2
    with pytest.raises(DataError, match=re.escape(message)) as err:
        load_data("folder", "train", data_dir=root, val_fraction=0.0, strict=True)
    assert str(root / "b" / "x.png") in str(err.value)
