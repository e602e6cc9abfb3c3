""":class:`ImageData`, one split of an image data set, and the tensor helpers that make it.

Images are kept as ``uint8`` ``(N, C, H, W)`` on the CPU: 50,000 CIFAR images are 150 MB, and a
loader moves them to the device once (see ``_loader.py``). ``mean``/``std`` are per-channel
statistics of the *training files* in ``[0, 1]`` units, so every split is normalised alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ._splits import split_subset

_CHUNK = 512  # images per chunk when resizing
_STATS_BYTES = 1 << 26  # bytes of one channel copied at a time for statistics (64 MiB)


@dataclass(frozen=True, eq=False)
class ImageData:
    """One split of an image data set (tensors compare by identity, so ``eq=False``)."""

    images: torch.Tensor  # uint8 (N, C, H, W), CPU
    labels: torch.Tensor  # int64 (N,)
    classes: tuple[str, ...]
    mean: tuple[float, ...]  # per channel, [0, 1] units, of the training files
    std: tuple[float, ...]
    name: str  # data set name, e.g. "cifar10"
    split: str  # "train" | "val" | "test"

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} "
                             f"{tuple(self.images.shape)}")
        if self.labels.dtype != torch.int64 or self.labels.shape != self.images.shape[:1]:
            raise ValueError(f"labels must be int64 (N,), got {self.labels.dtype} "
                             f"{tuple(self.labels.shape)} for {len(self.images)} images")
        if not len(self.mean) == len(self.std) == self.channels:
            raise ValueError(f"mean/std need one value per channel ({self.channels})")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        """Height (= width) in pixels."""
        return self.images.shape[2]

    def info(self) -> dict:
        """What identifies this data in a checkpoint, JSON-able (resume refuses other data)."""
        return {"name": self.name, "size": len(self), "classes": list(self.classes),
                "shape": list(self.images.shape[1:]), "mean": list(self.mean), "std": list(self.std)}

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, n: int, seed: int = 0) -> ImageData:
        """At most ``n`` of these examples, class-balanced: the same ones a ``subset`` of ``n`` gives
        when the split is loaded (same seed), so smaller subsets lie inside larger ones."""
        idx = split_subset(self.labels, n, seed, self.split, self.num_classes)
        return ImageData(self.images[idx], self.labels[idx], self.classes, self.mean, self.std, self.name,
                         self.split)

    def __repr__(self) -> str:
        n, c, h, w = self.images.shape
        return (f"ImageData(name={self.name!r}, split={self.split!r}, images={n}x{c}x{h}x{w}, "
                f"classes={self.num_classes})")


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of uint8 ``(N, C, H, W)`` images, in [0, 1] units.

    Exact and order-independent: computed from a 256-bin histogram per channel (one
    ``bincount`` per channel and chunk; few large ops also stay fast on a busy CPU).
    """
    channels, pixels = images.shape[1], images.shape[2] * images.shape[3]
    hist = torch.zeros(channels, 256, dtype=torch.int64)
    for chunk in images.split(max(1, _STATS_BYTES // pixels)):
        for c in range(channels):
            hist[c] += torch.bincount(chunk[:, c].reshape(-1), minlength=256)
    values = torch.arange(256, dtype=torch.float64) / 255  # [0, 1] units
    count = hist.sum(dim=1).double()
    mean = (hist.double() * values).sum(dim=1) / count
    var = ((hist.double() * values**2).sum(dim=1) / count - mean**2).clamp_min(0.0)
    return _floats(mean), _floats(var.sqrt())


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear (antialiased) resize of uint8 ``(N, C, H, W)`` images to ``(N, C, size, size)``."""
    if images.shape[-2:] == (size, size):
        return images
    out = torch.empty((*images.shape[:2], size, size), dtype=torch.uint8)
    for start in range(0, len(images), _CHUNK):
        x = images[start:start + _CHUNK].float()
        y = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[start:start + _CHUNK] = y.round_().clamp_(0, 255).to(torch.uint8)
    return out


def _floats(t: torch.Tensor) -> tuple[float, ...]:
    return tuple(float(v) for v in t)
