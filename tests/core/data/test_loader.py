"""DeviceLoader (``_loader.py``): batches, normalisation, augmentation, determinism, resume."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from nas_core.data import DeviceLoader, ImageData
from nas_core.data._loader import crop_flip


def make_data(n: int = 50, c: int = 3, size: int = 8, seed: int = 0) -> ImageData:
    """Random images whose label is their index, so every example can be recognised."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, c, size, size), generator=gen, dtype=torch.uint8)
    return ImageData(images, torch.arange(n), tuple(str(i) for i in range(n)),
                     (0.4,) * c, (0.2,) * c, "test-data", "train")


def unnormalise(x: torch.Tensor, data: ImageData) -> torch.Tensor:
    mean = torch.tensor(data.mean).view(1, -1, 1, 1)
    std = torch.tensor(data.std).view(1, -1, 1, 1)
    return ((x.float() * std + mean) * 255).round().to(torch.uint8)


def epoch(loader: DeviceLoader) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*loader)
    return torch.cat(xs), torch.cat(ys)


def test_eval_is_ordered_complete_and_unaugmented():
    data = make_data(50)
    loader = DeviceLoader(data, 16, train=False)
    assert len(loader) == 4
    x, y = epoch(loader)
    assert x.shape == (50, 3, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.equal(y, data.labels)
    assert torch.equal(unnormalise(x, data), data.images)
    assert torch.allclose(x, (data.images / 255 - 0.4) / 0.2, atol=1e-5)
    assert torch.equal(epoch(loader)[0], x) and loader.epoch == 2


def test_train_batches_shapes_and_drop_last():
    loader = DeviceLoader(make_data(50), 16, train=True)
    assert len(loader) == 3
    x, y = epoch(loader)
    assert x.shape == (48, 3, 8, 8) and len(set(y.tolist())) == 48  # no example twice
    assert len(DeviceLoader(make_data(50), 16, train=True, drop_last=False)) == 4
    with pytest.raises(ValueError, match="batch_size"):
        DeviceLoader(make_data(10), 16, train=True)


def test_same_seed_same_batches_other_seed_other_batches():
    data = make_data()
    a, b = (epoch(DeviceLoader(data, 10, train=True, seed=1)) for _ in range(2))
    c = epoch(DeviceLoader(data, 10, train=True, seed=2))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


def test_augmentation_varies_between_epochs():
    data = make_data(50)
    loader = DeviceLoader(data, 10, train=True)
    seen = []
    for _ in range(2):
        x, y = epoch(loader)
        seen.append(x[y.argsort()])  # by example
    assert not torch.equal(seen[0], seen[1])
    changed = (seen[0] != seen[1]).flatten(1).any(1).float().mean()
    assert changed > 0.8  # nearly every example got another crop or flip


def test_without_augmentation_train_batches_are_the_images():
    data = make_data(40)
    x, y = epoch(DeviceLoader(data, 10, train=True, crop_padding=0, flip=False))
    assert torch.equal(unnormalise(x, data), data.images[y])


@pytest.mark.parametrize("pad_mode", ["reflect", "zeros"])
def test_crop_flip_matches_pad_then_slice(pad_mode):
    images = make_data(20, size=6).images
    gen = torch.Generator().manual_seed(0)
    index = torch.randperm(20, generator=gen)[:12]
    offsets = torch.randint(-3, 4, (12, 2), generator=gen)
    flips = torch.rand(12, generator=gen) < 0.5
    got = crop_flip(images, index, offsets, flips, pad_mode)
    mode = "reflect" if pad_mode == "reflect" else "constant"
    padded = F.pad(images.float(), (3, 3, 3, 3), mode=mode).to(torch.uint8)
    for b, (i, (dy, dx), flip) in enumerate(zip(index, offsets.tolist(), flips)):
        want = padded[i, :, 3 + dy:3 + dy + 6, 3 + dx:3 + dx + 6]
        assert torch.equal(got[b], want.flip(-1) if flip else want)


def test_dtype_and_channels_last():
    loader = DeviceLoader(make_data(), 10, train=True, dtype=torch.bfloat16, channels_last=True)
    x, _ = next(iter(loader))
    assert x.dtype == torch.bfloat16 and x.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("consumed", [2, 5, 9])  # mid-epoch, end of an epoch, next epoch
def test_state_dict_resumes_at_the_identical_next_batch(consumed):
    data = make_data(50)
    loader = DeviceLoader(data, 10, train=True, seed=3)
    stream = itertools.chain.from_iterable(iter(loader) for _ in range(3))
    for _ in range(consumed):
        next(stream)
    state = loader.state_dict()
    expected = [next(stream) for _ in range(4)]
    resumed = DeviceLoader(data, 10, train=True, seed=99)
    resumed.load_state_dict(state)
    again = itertools.chain.from_iterable(iter(resumed) for _ in range(2))
    for (x, y), (x2, y2) in zip(expected, again):
        assert torch.equal(x, x2) and torch.equal(y, y2)
    assert state["epoch"] == consumed // 5


def test_epoch_counter_and_mismatched_state():
    loader = DeviceLoader(make_data(50), 10, train=True)
    for _ in loader:
        pass
    assert loader.epoch == 1 and loader.state_dict()["step"] == 0
    with pytest.raises(ValueError, match="batch_size"):
        DeviceLoader(make_data(50), 5, train=True).load_state_dict(loader.state_dict())


def test_one_channel_data():
    data = make_data(30, c=1, size=28)
    x, _ = next(iter(DeviceLoader(data, 8, train=True)))
    assert x.shape == (8, 1, 28, 28)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_gives_the_same_batches_as_cpu():
    data = make_data(64, size=32)
    for train in (True, False):
        cpu = epoch(DeviceLoader(data, 16, train=train, seed=5))
        gpu = epoch(DeviceLoader(data, 16, train=train, seed=5, device="cuda"))
        assert gpu[0].device.type == "cuda"
        assert torch.equal(cpu[1], gpu[1].cpu()) and torch.allclose(cpu[0], gpu[0].cpu())
