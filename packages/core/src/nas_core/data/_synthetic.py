"""A small generated data set that a network can learn in a few dozen steps: for tests and
smoke runs without any files.

Class ``k`` of 10 has its own colour and a stripe pattern (frequency ``1 + k % 5`` cycles per
image, vertical stripes for ``k < 5``, horizontal otherwise), with a random phase, brightness
and pixel noise per image. Colour and stripes survive random crops and horizontal flips, so
the usual augmentation keeps the classes learnable. The data are fixed (generator seeds 0 for
the training part, 1 for the test part); ``load_data``'s ``seed`` picks splits and subsets as
for any data set.
"""

from __future__ import annotations

import math

import torch

from ._source import Raw, Request

NUM_TRAIN = 2_000  # images in the training part (train + val)
NUM_TEST = 500
DEFAULT_SIZE = 32  # pixels
NOISE = 0.08  # std of the pixel noise, [0, 1] units
CLASSES = tuple(f"class_{k}" for k in range(10))
_PALETTE = torch.tensor([  # one RGB colour per class, [0, 1]
    [0.90, 0.20, 0.20], [0.20, 0.80, 0.20], [0.20, 0.30, 0.90], [0.90, 0.85, 0.20],
    [0.80, 0.25, 0.85], [0.20, 0.85, 0.85], [0.95, 0.55, 0.15], [0.55, 0.55, 0.55],
    [0.50, 0.30, 0.10], [0.95, 0.95, 0.95],
])


def read_synthetic(part: str, req: Request) -> Raw:
    """The generated ``part``: uint8 (N, 3, S, S), 10 balanced classes."""
    n, seed = (NUM_TRAIN, 0) if part == "train" else (NUM_TEST, 1)
    gen = torch.Generator().manual_seed(seed)
    images, labels = make_images(n, req.image_size or DEFAULT_SIZE, gen)
    return Raw(images, labels, CLASSES)


def make_images(n: int, size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images (uint8 (n, 3, size, size)) and their labels (int64, balanced), from ``gen``."""
    labels = torch.randperm(n, generator=gen) % len(CLASSES)  # balanced, shuffled
    coord = (torch.arange(size) + 0.5) / size  # (S,), pixel centres in [0, 1)
    freq = (1 + labels % 5).double()[:, None]  # (n, 1) cycles per image
    phase = torch.rand(n, 1, generator=gen, dtype=torch.float64) * 2 * math.pi
    wave = torch.sin(2 * math.pi * freq * coord.double() + phase).float()  # (n, S)
    vertical = (labels < 5)[:, None, None]
    stripes = torch.where(vertical, wave[:, None, :], wave[:, :, None])  # (n, S, S)
    brightness = 0.8 + 0.4 * torch.rand(n, 1, 1, 1, generator=gen)
    colour = _PALETTE[labels][:, :, None, None]  # (n, 3, 1, 1)
    x = colour * brightness * (0.7 + 0.3 * stripes[:, None])  # (n, 3, S, S)
    x = x + NOISE * torch.randn(x.shape, generator=gen)
    return (x.clamp(0, 1) * 255).round().to(torch.uint8), labels
