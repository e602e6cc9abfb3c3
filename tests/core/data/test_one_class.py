"""A data set whose training images are all of one class is refused for every kind of data set
(one line naming it): such a data set would train (CIFAR, Fashion-MNIST) to a constant answer or
crash later (folder). Two classes are enough."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest
import torch
from PIL import Image

from nas_core.data import DataError, _registry, load_data
from nas_core.data._source import Raw


def idx(array: torch.Tensor) -> bytes:
    return bytes((0, 0, 8, array.dim())) + struct.pack(f">{array.dim()}I", *array.shape) + \
        bytes(array.contiguous().view(-1).tolist())


def fashion(root: Path, labels: list[int]) -> Path:
    root.mkdir()
    images, targets = torch.zeros(len(labels), 28, 28, dtype=torch.uint8), torch.tensor(labels, dtype=torch.uint8)
    for part in ("train-", "t10k-"):
        (root / f"{part}images-idx3-ubyte.gz").write_bytes(gzip.compress(idx(images)))
        (root / f"{part}labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx(targets)))
    return root


def cifar(root: Path, labels: list[int], folder: str, files: tuple[str, ...], label_bytes: int) -> Path:
    (root / folder).mkdir(parents=True)
    record = [bytes([0] * (label_bytes - 1) + [k]) + bytes(3072) for k in labels]
    for f in files:
        (root / folder / f).write_bytes(b"".join(record))
    return root


def cifar10(root: Path, labels: list[int]) -> Path:
    files = tuple(f"data_batch_{i}.bin" for i in range(1, 6)) + ("test_batch.bin",)
    return cifar(root, labels, "cifar-10-batches-bin", files, 1)


def cifar100(root: Path, labels: list[int]) -> Path:
    return cifar(root, labels, "cifar-100-binary", ("train.bin", "test.bin"), 2)


def folder(root: Path, labels: list[int]) -> Path:
    for i, k in enumerate(labels):
        (root / f"class{k}").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (40 * k, i, 0)).save(root / f"class{k}" / f"{i}.png")
    return root


MAKERS = {"fashion-mnist": fashion, "cifar10": cifar10, "cifar100": cifar100, "folder": folder}


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("nas_core.data._download.fetch_url", lambda *a, **k: pytest.fail("network"))


@pytest.mark.parametrize("name", list(MAKERS))
def test_one_class_is_refused_two_are_fine(tmp_path, name):
    one = MAKERS[name](tmp_path / "one", [3] * 6)
    with pytest.raises(DataError, match=r"of one class.*\); a classifier needs at least 2") as err:
        load_data(name, "train", data_dir=one, val_fraction=0.0)
    assert str(one) in str(err.value) and "\n" not in str(err.value)
    two = MAKERS[name](tmp_path / "two", [3, 5] * 3)
    labels = load_data(name, "train", data_dir=two, val_fraction=0.0).labels.unique().tolist()
    assert labels == ([0, 1] if name == "folder" else [3, 5])  # a folder's classes: its 2 sub-folders


def test_a_folder_whose_other_classes_cannot_be_decoded_is_one_class(tmp_path):
    root = folder(tmp_path / "imgs", [0] * 4)
    (root / "class1").mkdir()
    (root / "class1" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="all of one class \\('class0'\\)"):
        load_data("folder", "train", data_dir=root, val_fraction=0.0)


def test_a_registered_reader_is_checked_too(monkeypatch):
    def reader(part, req):
        return Raw(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.zeros(4, dtype=torch.int64), ("only",))

    monkeypatch.setitem(_registry._READERS, "one-class", reader)
    monkeypatch.setitem(_registry._SHAPES, "one-class", (1, 8))
    with pytest.raises(DataError, match="one-class: the training images are all of one class \\('only'\\)"):
        load_data("one-class", "val")
