"""Image files to the uint8 tensors an exported model takes (Pillow), as the ``folder`` data set
decodes them for training: converted to the model's channels (``L`` or ``RGB``), resized on the
shorter side (bilinear) and centre-cropped to a square.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image, ImageOps

from ._errors import ExportError

_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def read_image(path: str | Path, channels: int, size: int) -> torch.Tensor:
    """One image file as uint8 ``(channels, size, size)``; :class:`ExportError` if unreadable."""
    if channels not in (1, 3):
        raise ExportError(f"can only decode images to 1 (L) or 3 (RGB) channels, not {channels}")
    mode = "L" if channels == 1 else "RGB"
    try:
        with Image.open(path) as img:
            img.load()
            fitted = ImageOps.fit(img.convert(mode), (size, size), Image.Resampling.BILINEAR)
    except FileNotFoundError:
        raise ExportError(f"{path}: no such file") from None
    except _DECODE_ERRORS as e:
        raise ExportError(f"{path}: cannot read image ({_reason(e)})") from None
    pixels = torch.frombuffer(bytearray(fitted.tobytes()), dtype=torch.uint8)
    return pixels.view(size, size, channels).permute(2, 0, 1).contiguous()  # (C, H, W)


def read_images(paths: Sequence[str | Path], channels: int, size: int) -> torch.Tensor:
    """Image files as one uint8 batch ``(N, channels, size, size)``."""
    if not paths:
        raise ExportError("no image files given")
    return torch.stack([read_image(p, channels, size) for p in paths])


def _reason(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0]
