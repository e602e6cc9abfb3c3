"""Every registered data set, the same way (timm-style: the suite loops over the registry, so a
new entry must come with a builder here), plus the registry itself."""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from PIL import Image

from nas_core.data import (
    DEFAULT_DATASET,
    DataError,
    ImageData,
    Raw,
    _idx,
    _registry,
    list_datasets,
    load_data,
    register_dataset,
)


def build_fashion(root: Path) -> Path:
    for part, n in (("train", 40), ("test", 10)):
        arrays = (torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8),
                  (torch.arange(n) % 10).to(torch.uint8))
        for base, a in zip(_idx.FILES[part], arrays):
            header = bytes((0, 0, 8, a.dim())) + struct.pack(f">{a.dim()}I", *a.shape)
            (root / f"{base}.gz").write_bytes(gzip.compress(header + bytes(a.view(-1).tolist())))
    return root


def build_cifar(folder: str, files: list[str], label_bytes: int) -> Callable[[Path], Path]:
    def build(root: Path) -> Path:
        (root / folder).mkdir()
        for name in files:
            labels = torch.arange(40).repeat_interleave(label_bytes).view(40, label_bytes) % 10
            records = torch.cat([labels, torch.randint(0, 256, (40, 3072))], dim=1)
            (root / folder / name).write_bytes(bytes(records.to(torch.uint8).view(-1).tolist()))
        return root
    return build


def build_folder(root: Path) -> Path:
    for k in range(3):
        for i in range(4):
            (root / f"class{k}").mkdir(exist_ok=True)
            Image.new("RGB", (20, 20), (60 * k, 10 * i, 0)).save(root / f"class{k}" / f"{i}.png")
    return root


BUILDERS: dict[str, Callable[[Path], Path | None]] = {
    "fashion-mnist": build_fashion,
    "cifar10": build_cifar("cifar-10-batches-bin",
                           [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"], 1),
    "cifar100": build_cifar("cifar-100-binary", ["train.bin", "test.bin"], 2),
    "folder": build_folder,
    "synthetic": lambda root: None,
}


pytestmark = pytest.mark.usefixtures("offline")  # no cache, system copy or network


def test_registry_lists_the_data_sets():
    assert list_datasets()[0] == DEFAULT_DATASET == "fashion-mnist"
    assert set(list_datasets()) == {"fashion-mnist", "cifar10", "cifar100", "folder", "synthetic"}
    assert set(BUILDERS) == set(list_datasets()), "add a builder for the new data set"


def check(data: ImageData, name: str, split: str) -> None:
    assert (data.name, data.split) == (name, split) and len(data) > 0
    assert data.images.dtype == torch.uint8 and data.images.dim() == 4
    assert data.images.is_contiguous() and data.images.device.type == "cpu"
    assert data.labels.dtype == torch.int64 and data.labels.shape == (len(data),)
    assert 0 <= int(data.labels.min()) and int(data.labels.max()) < data.num_classes
    assert data.images.shape[2] == data.images.shape[3] == data.image_size
    assert len(data.mean) == len(data.std) == data.channels
    assert all(0 <= m <= 1 for m in data.mean) and all(0 <= s <= 0.5 for s in data.std)
    assert name in repr(data) and "tensor" not in repr(data)


@pytest.mark.parametrize("name", list_datasets())
def test_every_data_set_conforms(name, tmp_path):
    (tmp_path / "data").mkdir()
    data_dir = BUILDERS[name](tmp_path / "data")
    kw = {"data_dir": data_dir, "val_fraction": 0.25}
    train, val = (load_data(name, s, **kw) for s in ("train", "val"))
    check(train, name, "train")
    check(val, name, "val")
    assert train.mean == val.mean and train.classes == val.classes
    if name != "folder":
        check(load_data(name, "test", **kw), name, "test")
    small = load_data(name, "train", image_size=8, subset=6, **kw)
    assert small.image_size == 8 and len(small) == 6


def test_names_are_normalised_and_unknown_names_listed():
    assert load_data("Synthetic", "test").name == "synthetic"
    with pytest.raises(DataError, match="unknown data set 'mnist'.*fashion-mnist"):
        load_data("mnist", "train")


def test_register_a_data_set(monkeypatch):
    monkeypatch.setattr(_registry, "_READERS", dict(_registry._READERS))

    def reader(part, req):
        images = torch.full((8, 1, 4, 4), 7 if part == "train" else 9, dtype=torch.uint8)
        return Raw(images, torch.arange(8) % 2, ("even", "odd"))

    register_dataset("Tiny_Set", reader)
    assert "tiny-set" in list_datasets()
    data = load_data("tiny-set", "test")
    assert data.mean == (7 / 255,) and int(data.images[0, 0, 0, 0]) == 9
    with pytest.raises(ValueError, match="already registered"):
        register_dataset("tiny-set", reader)


def test_core_prints_nothing(capsys, tmp_path):
    messages = []
    load_data("folder", "train", data_dir=build_folder(tmp_path), log=messages.append)
    assert messages and capsys.readouterr() == ("", "")
