"""Image files to the uint8 tensors an exported model takes (Pillow), as the ``folder`` data set
decodes them for training (``nas_core.data.open_image`` and ``fit_image``): converted to the
model's channels (``L`` or ``RGB``), resized on the shorter side (bilinear) and centre-cropped to
a square. Files are untrusted: only regular files of the formats we read, at most
``nas_core.data._image_file.MAX_PIXELS`` pixels (a FIFO named ``x.png`` is refused, not waited on).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from nas_core.data import DataError, fit_image, open_image

from ._errors import ExportError


def read_image(path: str | Path, channels: int, size: int) -> torch.Tensor:
    """One image file as uint8 ``(channels, size, size)``; :class:`ExportError` if unreadable."""
    if channels not in (1, 3):
        raise ExportError(f"can only decode images to 1 (L) or 3 (RGB) channels, not {channels}")
    mode = "L" if channels == 1 else "RGB"
    try:
        with open_image(path) as img:
            fitted = fit_image(img, mode, size, path)
    except DataError as e:
        raise ExportError(e.message) from None
    pixels = torch.frombuffer(bytearray(fitted.tobytes()), dtype=torch.uint8)
    return pixels.view(size, size, channels).permute(2, 0, 1).contiguous()  # (C, H, W)


def read_images(paths: Sequence[str | Path], channels: int, size: int) -> torch.Tensor:
    """Image files as one uint8 batch ``(N, channels, size, size)``."""
    if not paths:
        raise ExportError("no image files given")
    return torch.stack([read_image(p, channels, size) for p in paths])
