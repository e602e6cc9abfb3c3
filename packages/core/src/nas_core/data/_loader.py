""":class:`DeviceLoader`: batches of one split, augmented with a few tensor ops on the device.

After airbench (KellerJordan/cifar10-airbench): the whole split is copied to the device once
as uint8 (CIFAR-10's 50,000 images are 150 MB), and each batch is cut from it with two
vectorised copies that do the random crop and the horizontal flip of every image at once
(:func:`crop_flip`); there are no ``DataLoader`` workers and no per-image Python.
Normalisation is one multiply and one subtract per batch.

Randomness: the shuffle, crop offsets and flips of epoch ``e`` are drawn up front from a CPU
``torch.Generator`` seeded from ``(seed, e)``; the index tensors then move to the device. So the
same seed gives the same batches on any device, and ``state_dict()`` (seed, epoch, and batches
already served in the epoch) is all it takes to resume at the identical next batch.

Note: airbench also uses reflect padding; the paper's setting (Bender et al. 2018, Sec. 4,
standard CIFAR augmentation) pads with zeros: ``pad_mode="zeros"``.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ._image_data import ImageData
from ._splits import derived_generator

PAD_MODES = ("reflect", "zeros")


class DeviceLoader:
    """Batches ``(x, y)`` of ``data``: x float ``(B, C, H, W)`` normalised with
    ``data.mean``/``data.std``, y int64 ``(B,)``.

    ``train=True``: shuffled every epoch, random crop (``crop_padding`` pixels each side) and
    random horizontal flip, ``drop_last`` by default; with ``shard=(rank, ranks)`` (distributed
    training) each batch is the ``rank``-th of ``ranks`` equal slices of the global batch of
    ``batch_size``, cut from the same seeded order on every rank. ``train=False``: file order, no
    augmentation, last partial batch kept. ``epoch`` counts completed passes. One iteration at
    a time: a pass that is broken off resumes where it stopped (train) or restarts (eval).
    """

    def __init__(self, data: ImageData, batch_size: int, *, train: bool,
                 device: str | torch.device = "cpu", seed: int = 0, crop_padding: int = 4,
                 flip: bool = True, drop_last: bool | None = None,
                 dtype: torch.dtype = torch.float32, channels_last: bool = False,
                 pad_mode: str = "reflect", shard: tuple[int, int] = (0, 1)):
        _check(data, batch_size, crop_padding, pad_mode, dtype)
        if not (shard[1] >= 1 and 0 <= shard[0] < shard[1] and batch_size % shard[1] == 0):
            raise ValueError(f"shard {shard} does not cut batches of {batch_size} into equal parts")
        self.data, self.batch_size, self.train = data, batch_size, train
        self.device = torch.device(device)
        self.seed, self.crop_padding, self.flip, self.pad_mode = seed, crop_padding, flip, pad_mode
        self.shard = shard  # (rank, ranks): training batches yield this rank's slice of each batch
        self.drop_last = train if drop_last is None else drop_last
        self.dtype, self.channels_last = dtype, channels_last
        self.images = data.images.to(self.device).contiguous()  # uint8 (N, C, H, W)
        self.labels = data.labels.to(self.device)  # int64 (N,)
        self._scale, self._shift = _normaliser(data, self.device, dtype)  # (1, C, 1, 1)
        self.epoch, self._step = 0, 0
        if len(self) == 0:
            raise ValueError(f"batch_size={batch_size} is more than the {len(data)} examples of "
                             f"{data.name}/{data.split}: lower it or pass drop_last=False")

    def __len__(self) -> int:
        """Batches per epoch."""
        n, b = len(self.data), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if not self.train:
            self._step = 0  # an evaluation pass always starts from the first batch
        elif self._step >= len(self):
            self._finish_epoch()  # resumed just after the last batch of an epoch
        plan = self._plan()
        while self._step < len(self):
            start = self._step * self.batch_size
            idx = slice(start, start + self.batch_size)
            if self.train and self.shard[1] > 1:
                part = self.batch_size // self.shard[1]
                idx = slice(start + self.shard[0] * part, start + (self.shard[0] + 1) * part)
            self._step += 1
            yield self._train_batch(plan, idx) if self.train else self._eval_batch(idx)
        self._finish_epoch()

    def state_dict(self) -> dict:
        """Where the loader stands: enough to resume at the identical next batch."""
        epoch, step = (self.epoch + 1, 0) if self._step >= len(self) else (self.epoch, self._step)
        return {"seed": self.seed, "epoch": epoch, "step": step,
                "batch_size": self.batch_size, "num_examples": len(self.data)}

    def load_state_dict(self, state: dict) -> None:
        """Resume from :meth:`state_dict` of a loader over the same data and batch size."""
        mine = (self.batch_size, len(self.data))
        if (state["batch_size"], state["num_examples"]) != mine:
            raise ValueError(f"loader state is for batch_size={state['batch_size']} over "
                             f"{state['num_examples']} examples, this loader has {mine}")
        self.seed, self.epoch, self._step = state["seed"], state["epoch"], state["step"]

    def _finish_epoch(self) -> None:
        if self._step > 0:
            self.epoch += 1
        self._step = 0

    def _plan(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """This epoch's order (N,), crop offsets (N, 2) and flips (N,), on the device."""
        if not self.train:
            return None
        n, p = len(self.data), self.crop_padding
        gen = derived_generator(self.seed, f"loader-epoch-{self.epoch}")
        order = torch.randperm(n, generator=gen)
        offsets = torch.randint(0, 2 * p + 1, (n, 2), generator=gen) - p  # pixels, in [-p, p]
        flips = torch.rand(n, generator=gen) < (0.5 if self.flip else 0.0)
        return order.to(self.device), offsets.to(self.device), flips.to(self.device)

    def _train_batch(self, plan, idx: slice) -> tuple[torch.Tensor, torch.Tensor]:
        order, offsets, flips = (t[idx] for t in plan)
        x = crop_flip(self.images, order, offsets, flips, self.pad_mode)  # uint8 (B, C, H, W)
        return self._normalise(x), self.labels[order]

    def _eval_batch(self, idx: slice) -> tuple[torch.Tensor, torch.Tensor]:
        return self._normalise(self.images[idx]), self.labels[idx]

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.dtype).mul_(self._scale).sub_(self._shift)  # (x / 255 - mean) / std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


def crop_flip(images: torch.Tensor, index: torch.Tensor, offsets: torch.Tensor,
              flips: torch.Tensor, pad_mode: str = "reflect") -> torch.Tensor:
    """Images ``index`` (B,) of ``images`` (N, C, H, W), shifted by ``offsets`` (B, 2) (rows,
    columns; pixels) and mirrored where ``flips`` (B,): a random crop of the padded image.

    Two vectorised copies and no padded copy of the data: ``index_select`` of the B*C*H source
    rows (padding rows resolved in the row index), then one ``gather`` of the columns, whose
    index also does the padding and the flip.
    """
    n, c, h, w = images.shape
    b, dev = len(index), images.device
    rows = torch.arange(h, device=dev) + offsets[:, :1]  # (B, H) source rows, may be outside
    cols = torch.arange(w, device=dev).expand(b, w)
    cols = torch.where(flips[:, None], w - 1 - cols, cols) + offsets[:, 1:]  # (B, W)
    plane = index[:, None, None] * c + torch.arange(c, device=dev)[None, :, None]  # (B, C, 1)
    flat_rows = (plane * h + _source(rows, h, pad_mode)[:, None, :]).reshape(-1)  # (B*C*H,)
    x = images.view(n * c * h, w).index_select(0, flat_rows).view(b, c * h, w)
    x = x.gather(2, _source(cols, w, pad_mode)[:, None, :].expand(b, c * h, w))
    x = x.view(b, c, h, w)
    if pad_mode == "zeros":
        inside_rows = ((rows >= 0) & (rows < h))[:, None, :, None]
        x = x * (inside_rows & ((cols >= 0) & (cols < w))[:, None, None, :])
    return x


def _source(pos: torch.Tensor, size: int, pad_mode: str) -> torch.Tensor:
    """Valid source indices for positions ``pos`` in ``[-size + 1, 2 * size - 2]``: mirrored
    at the edges (reflect, edge pixel not repeated) or clamped (zeros; masked afterwards)."""
    if pad_mode == "zeros":
        return pos.clamp(0, size - 1)
    return (size - 1) - ((size - 1) - pos.abs()).abs()


def _normaliser(data: ImageData, device: torch.device,
                dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(data.mean, dtype=torch.float64)
    std = torch.tensor(data.std, dtype=torch.float64).clamp_min(1e-6)
    scale, shift = 1 / (255 * std), mean / std
    shape = (1, data.channels, 1, 1)
    return (scale.view(shape).to(device, dtype), shift.view(shape).to(device, dtype))


def _check(data: ImageData, batch_size: int, crop_padding: int, pad_mode: str,
           dtype: torch.dtype) -> None:
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if pad_mode not in PAD_MODES:
        raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
    if not 0 <= crop_padding < data.image_size:
        raise ValueError(f"crop_padding must be in [0, {data.image_size}), got {crop_padding}")
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating point type, got {dtype}")
