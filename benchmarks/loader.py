"""Throughput of :class:`nas_core.data.DeviceLoader` against a per-sample ``DataLoader``.

Both do the same work on the same CIFAR-10-shaped data (32x32x3, uint8 in memory): shuffle,
random crop with 4 pixels of reflect padding, random horizontal flip, per-channel
normalisation to float32, batches of 512, one epoch. The baseline is the usual
``torch.utils.data.Dataset`` + ``DataLoader`` doing those ops per image with plain torch.

Run: ``.venv/bin/python benchmarks/loader.py`` (about a minute on 2 CPU cores). Uses the real
CIFAR-10 training set from ``../shared/data`` when present, else 50,000 synthetic images.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from nas_core.data import DeviceLoader, ImageData, channel_stats, load_data
from nas_core.data._synthetic import make_images

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cifar-10-batches-bin"
BATCH = 512
PAD = 4  # pixels


def cifar_like() -> tuple[ImageData, str]:
    if SHARED.is_dir():
        return load_data("cifar10", "train", data_dir=SHARED, val_fraction=0.0), "CIFAR-10 (real)"
    images, labels = make_images(50_000, 32, torch.Generator().manual_seed(0))
    mean, std = channel_stats(images)
    classes = tuple(str(k) for k in range(10))
    return ImageData(images, labels, classes, mean, std, "synthetic", "train"), "synthetic"


class PerSampleDataset(Dataset):
    """The baseline: crop, flip and normalise one image at a time."""

    def __init__(self, data: ImageData):
        self.images, self.labels = data.images, data.labels
        self.mean = torch.tensor(data.mean).view(-1, 1, 1)
        self.std = torch.tensor(data.std).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.images[i].float().div_(255)  # (C, H, W)
        x = F.pad(x, (PAD, PAD, PAD, PAD), mode="reflect")
        dy, dx = torch.randint(0, 2 * PAD + 1, (2,)).tolist()
        x = x[:, dy:dy + 32, dx:dx + 32]
        if torch.rand(()) < 0.5:
            x = x.flip(-1)
        return (x - self.mean) / self.std, self.labels[i]


def images_per_second(batches, sync=lambda: None) -> float:
    start, n = time.perf_counter(), 0
    for x, _ in batches:
        n += len(x)
    sync()
    return n / (time.perf_counter() - start)


def main() -> None:
    data, source = cifar_like()
    print(f"data: {source}, {len(data)} images {tuple(data.images.shape[1:])}; batch {BATCH}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    loader = DeviceLoader(data, BATCH, train=True, crop_padding=PAD)
    images_per_second(loader)  # warm-up epoch
    device = images_per_second(loader)
    results = {"DeviceLoader (cpu)": device}
    dataset = PerSampleDataset(data)
    for workers in (0, 2):
        batches = DataLoader(dataset, BATCH, shuffle=True, drop_last=True, num_workers=workers,
                             persistent_workers=False)
        results[f"DataLoader, num_workers={workers}"] = images_per_second(batches)
    if torch.cuda.is_available():
        gpu = DeviceLoader(data, BATCH, train=True, crop_padding=PAD, device="cuda")
        images_per_second(gpu, torch.cuda.synchronize)
        results["DeviceLoader (cuda)"] = images_per_second(gpu, torch.cuda.synchronize)
    for name, rate in results.items():
        print(f"{name:<28} {rate:>12,.0f} images/s   {device / rate:6.1f}x slower than "
              f"DeviceLoader (cpu)" if rate < device else f"{name:<28} {rate:>12,.0f} images/s")


if __name__ == "__main__":
    main()
