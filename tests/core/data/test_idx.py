"""Fashion-MNIST from IDX files (``_idx.py``): small files written here in the official format,
the error for each kind of bad file, and the real data set where Debian's package is installed."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import pytest
import torch

from nas_core.data import DataError, _idx, load_data
from nas_core.data._source import Request

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
N_TRAIN, N_TEST = 60, 20  # images in the small files


def idx_bytes(array: torch.Tensor) -> bytes:
    """``array`` (uint8) in IDX format: magic 00 00 08 ndim, big-endian sizes, data."""
    header = bytes((0, 0, 8, array.dim())) + struct.pack(f">{array.dim()}I", *array.shape)
    return header + bytes(array.contiguous().view(-1).tolist())


def write_fashion(folder: Path, gz: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    """The 4 Fashion-MNIST files with random content; returns what was written."""
    gen = torch.Generator().manual_seed(seed)
    arrays = {}
    for part, n in (("train", N_TRAIN), ("test", N_TEST)):
        images = torch.randint(0, 256, (n, 28, 28), generator=gen, dtype=torch.uint8)
        labels = (torch.arange(n) % 10).to(torch.uint8)
        for base, array in zip(_idx.FILES[part], (images, labels)):
            arrays[base] = array
            data = idx_bytes(array)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / (base + ".gz" if gz else base)
            path.write_bytes(gzip.compress(data) if gz else data)
    return arrays


pytestmark = pytest.mark.usefixtures("offline")  # no cache, system copy or network


@pytest.mark.parametrize("gz", [True, False])
def test_reads_official_format(tmp_path, gz):
    arrays = write_fashion(tmp_path / "fm", gz)
    test = load_data("fashion-mnist", "test", data_dir=tmp_path / "fm")
    assert test.images.shape == (N_TEST, 1, 28, 28) and test.images.dtype == torch.uint8
    assert torch.equal(test.images[:, 0], arrays["t10k-images-idx3-ubyte"])
    assert torch.equal(test.labels, arrays["t10k-labels-idx1-ubyte"].long())
    assert test.classes[0] == "T-shirt/top" and test.num_classes == 10
    train = arrays["train-images-idx3-ubyte"].double() / 255
    assert test.mean[0] == pytest.approx(train.mean().item(), abs=1e-9)
    assert test.std[0] == pytest.approx(train.std(unbiased=False).item(), abs=1e-9)


def test_train_and_val_come_from_the_training_files(tmp_path):
    write_fashion(tmp_path, gz=True)
    train = load_data("fashion-mnist", "train", data_dir=tmp_path)
    val = load_data("fashion-mnist", "val", data_dir=tmp_path)
    assert (len(train), len(val)) == (N_TRAIN - 6, 6)
    assert (train.split, val.split, train.name) == ("train", "val", "fashion-mnist")


@pytest.mark.parametrize("layout", ["fashion-mnist", "FashionMNIST/raw"])
def test_finds_files_below_data_dir(tmp_path, layout):
    write_fashion(tmp_path / layout, gz=False)
    assert len(load_data("fashion-mnist", "test", data_dir=tmp_path)) == N_TEST


def test_the_user_cache_is_searched_only_without_data_dir(tmp_path):
    write_fashion(tmp_path / "cache" / "fashion-mnist", gz=True)
    messages = []
    load_data("fashion-mnist", "test", log=messages.append)
    assert any("cache" in m for m in messages)
    (tmp_path / "empty").mkdir()
    for data_dir, message in ((tmp_path / "empty", "no Fashion-MNIST files there"),
                              (tmp_path / "typo", "no such folder")):
        with pytest.raises(DataError, match=message) as err:  # never the cached copy instead
            load_data("fashion-mnist", "test", data_dir=data_dir)
        assert str(data_dir) in str(err.value) and err.value.arguments == ["data_dir", "data_dir"]


@pytest.mark.parametrize("gz", [True, False])
def test_truncated_file_names_it(tmp_path, gz):
    write_fashion(tmp_path, gz)
    path = tmp_path / ("train-images-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated") as err:
        load_data("fashion-mnist", "train", data_dir=tmp_path)
    assert str(path) in str(err.value)


def test_wrong_magic_number_names_the_file(tmp_path):
    write_fashion(tmp_path, gz=False)
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x0d\x01" + path.read_bytes()[4:])  # 0x0d: float, not ubyte
    with pytest.raises(DataError, match="magic number") as err:
        load_data("fashion-mnist", "train", data_dir=tmp_path)
    assert str(path) in str(err.value)


def test_sha256sums_mismatch_names_the_file(tmp_path):
    write_fashion(tmp_path, gz=True)
    good = hashlib.sha256((tmp_path / "train-labels-idx1-ubyte.gz").read_bytes()).hexdigest()
    (tmp_path / "SHA256SUMS").write_text(f"{good}  train-labels-idx1-ubyte.gz\n"
                                         f"{'0' * 64}  train-images-idx3-ubyte.gz\n")
    with pytest.raises(DataError, match="checksum mismatch") as err:
        load_data("fashion-mnist", "train", data_dir=tmp_path)
    assert str(tmp_path / "train-images-idx3-ubyte.gz") in str(err.value)


def test_strict_checks_the_official_checksums(tmp_path):
    write_fashion(tmp_path, gz=True)
    assert len(load_data("fashion-mnist", "test", data_dir=tmp_path)) == N_TEST
    with pytest.raises(DataError, match="checksum mismatch"):
        load_data("fashion-mnist", "test", data_dir=tmp_path, strict=True)


def test_missing_file_and_count_mismatch(tmp_path):
    write_fashion(tmp_path, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load_data("fashion-mnist", "test", data_dir=tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(torch.zeros(3, dtype=torch.uint8)))
    with pytest.raises(DataError, match="3 labels"):
        load_data("fashion-mnist", "test", data_dir=tmp_path)


@pytest.mark.skipif(not DEBIAN.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_real_fashion_mnist(monkeypatch):
    monkeypatch.setattr(_idx, "SYSTEM_DIRS", (DEBIAN,))
    train = _idx.read_fashion_mnist("train", Request("fashion-mnist", None, None, True, False,
                                                     print))  # strict: pinned checksums
    test = load_data("fashion-mnist", "test", strict=True)
    assert train.images.shape == (60_000, 1, 28, 28) and test.images.shape == (10_000, 1, 28, 28)
    assert test.num_classes == 10 and test.channels == 1 and test.image_size == 28
    assert torch.bincount(test.labels).tolist() == [1_000] * 10
    assert test.mean[0] == pytest.approx(0.2860, abs=1e-3)  # of the 60,000 training images
    assert len(load_data("fashion-mnist", "val")) == 6_000
