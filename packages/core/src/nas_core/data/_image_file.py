"""Opening one image file that nobody vouched for: the ``folder`` data set and ``nas predict``.

- Only regular files are opened: a FIFO, socket or device named ``x.png`` would block or read
  forever, so the path is checked (``stat``) before it is opened, and the opened file again
  (``fstat``; opened non-blocking, so a FIFO swapped in between cannot block either). Dangling
  links and link loops are named as such.
- Pillow may only try the formats we read (:data:`FORMATS`), not every plugin it has.
- At most :data:`MAX_PIXELS` pixels, checked from the header before any pixel is decoded
  (decompression bombs: a few KB of PNG can claim gigapixels).

Every refusal is a :class:`DataError` with a one-line message naming the file.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from ._errors import DataError

FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF", "PPM")  # Pillow's names (PPM: .ppm/.pgm/.pbm)
MAX_PIXELS = 1 << 26  # 67 megapixels (width x height): above any camera photo; 200 MB decoded as RGB
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # POSIX; Windows has no FIFOs to block on
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def open_image(path: str | Path) -> Image.Image:
    """The image in the file ``path``, decoded (the file is closed again); a :class:`DataError`
    for anything that is not a regular file holding one image of :data:`FORMATS` within
    :data:`MAX_PIXELS`."""
    fd = _open_regular(Path(path))
    with os.fdopen(fd, "rb") as f, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(f, formats=FORMATS)
            _check_pixels(img, path)
            img.load()
        except DataError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DataError(f"{path}: cannot read image (more pixels than the {MAX_PIXELS / 1e6:.0f} "
                            "megapixels an image may have here)") from None
        except UnidentifiedImageError:
            raise DataError(f"{path}: cannot read image (not {', '.join(FORMATS[:-1])} or "
                            f"{FORMATS[-1]})") from None
        except _DECODE_ERRORS as e:
            raise DataError(f"{path}: cannot read image ({_first_line(e)})") from None
    return img


def fit_image(img: Image.Image, mode: str, size: int, path: str | Path) -> Image.Image:
    """``img`` converted to ``mode`` (``L`` or ``RGB``), resized on its shorter side (bilinear)
    and centre-cropped to ``size`` x ``size``: how training and serving see every image file."""
    try:
        return ImageOps.fit(img.convert(mode), (size, size), Image.Resampling.BILINEAR)
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: cannot convert image to {mode} ({_first_line(e)})") from None


def _open_regular(path: Path) -> int:
    """A read-only descriptor of ``path``, which must be (or link to) a regular file."""
    _require_regular(path, _stat(path))
    try:
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | getattr(os, "O_BINARY", 0))
    except OSError as e:
        raise DataError(f"{path}: cannot open ({e.strerror or e})") from None
    try:
        _require_regular(path, os.fstat(fd))  # replaced since the check: refuse what was opened
    except DataError:
        os.close(fd)
        raise
    return fd


def _stat(path: Path) -> os.stat_result:
    try:
        return os.stat(path)  # follows links
    except FileNotFoundError:
        raise DataError(f"{path}: dangling symbolic link" if path.is_symlink() else f"{path}: no such file") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise DataError(f"{path}: symbolic link loop") from None
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None


def _require_regular(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
        raise DataError(f"{path}: {kind}, not an image file")


def _check_pixels(img: Image.Image, path: str | Path) -> None:
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise DataError(f"{path}: cannot read image ({width}x{height} pixels, more than the "
                        f"{MAX_PIXELS / 1e6:.0f} megapixels an image may have here)")


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0]
