"""CIFAR-10 / CIFAR-100 binary files (``_cifar.py``): small files written here in the official
record layout, bad files, and the real CIFAR-10 training set when ``../shared`` is present."""

from __future__ import annotations

import hashlib
import urllib.error
from pathlib import Path

import pytest
import torch

from nas_core.data import DataError, _cifar, _download, load_data
from nas_core.data._source import Request
from nas_core.data._splits import train_val_split

SHARED_CIFAR10 = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / \
    "cifar-10-batches-bin"
PER_BATCH = 20  # records per small file


def cifar_records(n: int, label_bytes: int, gen: torch.Generator) -> torch.Tensor:
    """(n, label_bytes + 3072) uint8 records: label byte(s) then R, G, B planes."""
    labels = torch.randint(0, 10 if label_bytes == 1 else 100, (n, label_bytes), generator=gen)
    pixels = torch.randint(0, 256, (n, 3072), generator=gen)
    return torch.cat([labels, pixels], dim=1).to(torch.uint8)


def write_records(path: Path, records: torch.Tensor) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(records.view(-1).tolist()))


def write_cifar10(root: Path, test: bool = True, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    folder = root / "cifar-10-batches-bin"
    files = [f"data_batch_{i}.bin" for i in range(1, 6)] + (["test_batch.bin"] if test else [])
    written = {f: cifar_records(PER_BATCH, 1, gen) for f in files}
    for f, records in written.items():
        write_records(folder / f, records)
    (folder / "batches.meta.txt").write_text("\n".join(_cifar.CIFAR10_CLASSES) + "\n\n")
    return written


def write_cifar100(root: Path, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    folder = root / "cifar-100-binary"
    written = {f: cifar_records(PER_BATCH * 5, 2, gen) for f in ("train.bin", "test.bin")}
    for f, records in written.items():
        write_records(folder / f, records)
    (folder / "fine_label_names.txt").write_text("".join(f"fine{i}\n" for i in range(100)))
    return written


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path / "cache"))

    def offline(url, dest, progress=None, max_bytes=None):
        raise urllib.error.URLError("offline in tests")

    monkeypatch.setattr(_download, "fetch_url", offline)


@pytest.mark.parametrize("where", ["parent", "folder"])
def test_cifar10_layout(tmp_path, where):
    written = write_cifar10(tmp_path)
    data_dir = tmp_path if where == "parent" else tmp_path / "cifar-10-batches-bin"
    test = load_data("cifar10", "test", data_dir=data_dir)
    records = written["test_batch.bin"]
    assert test.images.shape == (PER_BATCH, 3, 32, 32)
    assert torch.equal(test.labels, records[:, 0].long())
    assert torch.equal(test.images[:, 0].reshape(PER_BATCH, -1), records[:, 1:1025])  # red plane
    assert torch.equal(test.images[:, 2, 31, 31], records[:, 3072])  # last blue pixel
    assert test.classes == _cifar.CIFAR10_CLASSES
    train = torch.cat([written[f"data_batch_{i}.bin"] for i in range(1, 6)])[:, 1:].double() / 255
    assert test.mean[1] == pytest.approx(train[:, 1024:2048].mean().item(), abs=1e-9)


def test_cifar10_train_val_use_all_five_batches(tmp_path):
    write_cifar10(tmp_path)
    train = load_data("cifar10", "train", data_dir=tmp_path)
    val = load_data("cifar10", "val", data_dir=tmp_path)
    assert len(train) + len(val) == 5 * PER_BATCH and len(val) == PER_BATCH // 2


def test_cifar100_uses_fine_labels(tmp_path):
    written = write_cifar100(tmp_path)
    test = load_data("cifar100", "test", data_dir=tmp_path)
    assert torch.equal(test.labels, written["test.bin"][:, 1].long())
    assert test.num_classes == 100 and test.classes[7] == "fine7"
    assert torch.equal(test.images[:, 0, 0, 0], written["test.bin"][:, 2])


def test_wrong_record_size_names_the_file(tmp_path):
    write_cifar100(tmp_path / "c100")
    (tmp_path / "c10" / "cifar-10-batches-bin").mkdir(parents=True)
    for i in range(1, 6):  # CIFAR-100 records (3,074 bytes) where CIFAR-10 (3,073) are expected
        target = tmp_path / "c10" / "cifar-10-batches-bin" / f"data_batch_{i}.bin"
        target.write_bytes((tmp_path / "c100" / "cifar-100-binary" / "train.bin").read_bytes())
    with pytest.raises(DataError, match="3073-byte") as err:
        load_data("cifar10", "train", data_dir=tmp_path / "c10")
    assert "data_batch_1.bin" in str(err.value)


def test_truncated_batch_names_the_file(tmp_path):
    write_cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(DataError, match="whole number") as err:
        load_data("cifar10", "val", data_dir=tmp_path)
    assert str(path) in str(err.value)


def test_sha256sums_are_checked(tmp_path):
    write_cifar10(tmp_path)
    folder = tmp_path / "cifar-10-batches-bin"
    sums = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in folder.glob("*.bin")}
    sums["data_batch_4.bin"] = "f" * 64
    (folder / "SHA256SUMS").write_text("".join(f"{h}  {n}\n" for n, h in sums.items()))
    with pytest.raises(DataError, match="checksum mismatch") as err:
        load_data("cifar10", "train", data_dir=tmp_path)
    assert "data_batch_4.bin" in str(err.value)


def test_missing_test_batch_is_a_clear_error(tmp_path):
    write_cifar10(tmp_path, test=False)
    with pytest.raises(DataError, match="no test_batch.bin.*no test split.*split=val"):
        load_data("cifar10", "test", data_dir=tmp_path)


def test_not_found_offline_says_how_to_provide_it(tmp_path):
    with pytest.raises(DataError, match="CIFAR-10 not found.*data_dir=DIR.*NAS_DATA_DIR"):
        load_data("cifar10", "train")
    with pytest.raises(DataError, match="no CIFAR-10 files there.*correct data_dir=DIR"):
        load_data("cifar10", "train", data_dir=tmp_path)  # given: the only place looked in


# The real CIFAR-10 training set in ../shared (see shared/data/README.md).
needs_shared = pytest.mark.skipif(not SHARED_CIFAR10.is_dir(),
                                  reason=f"{SHARED_CIFAR10} not present (fresh checkout)")


@pytest.fixture(scope="module")
def real():
    """The 50,000 training images, and the train/val splits, read once for the module."""
    req = Request("cifar10", SHARED_CIFAR10, None, False, False, print)
    raw = _cifar.read_cifar10("train", req)
    return raw, {s: load_data("cifar10", s, data_dir=SHARED_CIFAR10, download=False)
                 for s in ("train", "val")}


@needs_shared
def test_real_cifar10_counts_and_means(real):
    raw, splits = real
    assert raw.images.shape == (50_000, 3, 32, 32)
    assert torch.bincount(raw.labels).tolist() == [5_000] * 10
    means = [m * 255 for m in splits["train"].mean]
    assert means == pytest.approx([125.31, 122.95, 113.87], abs=0.1)


@needs_shared
def test_real_cifar10_split_is_45k_5k_disjoint_and_stable(real):
    raw, splits = real
    train_idx, val_idx = train_val_split(raw.labels, 0.1, 0, 10)
    assert (len(train_idx), len(val_idx)) == (45_000, 5_000)
    assert len(set(train_idx.tolist()) | set(val_idx.tolist())) == 50_000
    assert torch.bincount(raw.labels[val_idx]).tolist() == [500] * 10
    assert torch.equal(splits["val"].images, raw.images[val_idx])
    assert torch.equal(splits["train"].labels, raw.labels[train_idx])
    again = load_data("cifar10", "val", data_dir=SHARED_CIFAR10.parent, download=False)
    assert torch.equal(again.images, splits["val"].images)


@needs_shared
def test_real_cifar10_has_no_test_split():
    with pytest.raises(DataError, match="test_batch.bin.*split=val"):
        load_data("cifar10", "test", data_dir=SHARED_CIFAR10)
