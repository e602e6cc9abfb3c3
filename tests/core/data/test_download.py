"""Downloads (``_download.py``): the network is replaced by copies of local files; checksums,
atomic writes, and the message when the data cannot be found or fetched."""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import struct
import tarfile
import urllib.error
from pathlib import Path

import pytest
import torch

from nas_core.data import DataError, _cifar, _download, _idx, load_data

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def idx_gz(array: torch.Tensor) -> bytes:
    header = bytes((0, 0, 8, array.dim())) + struct.pack(f">{array.dim()}I", *array.shape)
    return gzip.compress(header + bytes(array.view(-1).tolist()))


def fake_server(folder: Path, monkeypatch) -> list[str]:
    """``fetch_url`` serves ``folder/<last part of the URL>``; returns the URLs asked for."""
    asked = []

    def fetch(url: str, dest: Path, progress=None) -> None:
        asked.append(url)
        source = folder / url.rsplit("/", 1)[1]
        if not source.is_file():
            raise urllib.error.HTTPError(url, 404, "not found", None, None)
        shutil.copyfile(source, dest)

    monkeypatch.setattr(_download, "fetch_url", fetch)
    return asked


def small_fashion_server(root: Path) -> dict[str, str]:
    """Small Fashion-MNIST .gz files in ``root``; returns their content SHA-256s."""
    root.mkdir(parents=True)
    sums = {}
    for part, n in (("train", 30), ("test", 10)):
        images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8)
        labels = (torch.arange(n) % 10).to(torch.uint8)
        for base, array in zip(_idx.FILES[part], (images, labels)):
            data = idx_gz(array)
            (root / f"{base}.gz").write_bytes(data)
            sums[base] = hashlib.sha256(gzip.decompress(data)).hexdigest()
    return sums


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(_idx, "SYSTEM_DIRS", ())
    return tmp_path / "cache"


def test_fashion_mnist_is_downloaded_once_and_verified(tmp_path, monkeypatch, cache):
    sums = small_fashion_server(tmp_path / "server")
    monkeypatch.setattr(_idx, "CONTENT_SHA256", sums)
    asked = fake_server(tmp_path / "server", monkeypatch)
    data = load_data("fashion-mnist", "test")
    assert len(data) == 10 and len(asked) == 4 and asked[0].startswith(_idx.BASE_URL)
    assert sorted(p.name for p in (cache / "fashion-mnist").iterdir()) == sorted(
        f"{b}.gz" for b in sums)  # no temporary files left
    load_data("fashion-mnist", "train")
    assert len(asked) == 4  # found in the cache the second time


def test_checksum_mismatch_keeps_nothing(tmp_path, monkeypatch, cache):
    small_fashion_server(tmp_path / "server")  # not the official content
    fake_server(tmp_path / "server", monkeypatch)
    with pytest.raises(DataError, match="SHA256 checksum mismatch") as err:
        load_data("fashion-mnist", "train")
    assert "train-images-idx3-ubyte.gz" in str(err.value)
    assert list((cache / "fashion-mnist").iterdir()) == []


@pytest.mark.parametrize("download", [True, False])
def test_offline_message_names_the_folders_tried_and_the_three_ways(monkeypatch, tmp_path, cache,
                                                                   download):
    fake_server(Path("/nonexistent"), monkeypatch)
    with pytest.raises(DataError) as err:
        load_data("fashion-mnist", "train", data_dir=tmp_path / "mine", download=download)
    message = str(err.value)
    assert "\n" not in message and "--" not in message  # core names arguments, not flags
    assert f"not found (looked in {tmp_path / 'mine'}, {cache / 'fashion-mnist'}) and " in message
    for way in ("data_dir=DIR", "$NAS_DATA_DIR", "apt-get install dataset-fashion-mnist"):
        assert way in message
    assert err.value.arguments == ["data_dir"]


def test_the_cli_renders_the_advice_with_its_flags():
    with pytest.raises(DataError) as err:
        load_data("cifar10", "train", download=False)

    def flag(name: str, value: str | None) -> str:
        return f"--{name.replace('_', '-')}" + (f" {value}" if value is not None else "")

    flags = err.value.render(flag)
    assert flags.startswith("CIFAR-10 not found (looked in ") and " and download=False: " in flags
    assert "pass --data-dir DIR (cifar-10-batches-bin or its parent)" in flags


@pytest.mark.skipif(not DEBIAN.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_pinned_checksums_accept_the_real_files(monkeypatch):
    """Debian re-compressed the official .gz files; the content checksums still match."""
    fake_server(DEBIAN, monkeypatch)
    assert len(load_data("fashion-mnist", "test")) == 10_000


def cifar_archive(path: Path, records: int = 10) -> None:
    """A cifar-10-binary.tar.gz with the official member names (and one hostile name)."""
    members = {f"data_batch_{i}.bin": bytes([i % 10]) + bytes(3072) for i in range(1, 6)}
    members = {name: data * records for name, data in members.items()}
    members["test_batch.bin"] = (bytes([3]) + bytes(range(256)) * 12) * records
    members["batches.meta.txt"] = "\n".join(_cifar.CIFAR10_CLASSES).encode()
    with tarfile.open(path, "w:gz") as tar:
        for name, data in {**{f"cifar-10-batches-bin/{n}": d for n, d in members.items()},
                           "../escape.bin": b"x"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_cifar10_archive_is_verified_and_extracted(tmp_path, monkeypatch, cache):
    server = tmp_path / "server"
    server.mkdir()
    cifar_archive(server / "cifar-10-binary.tar.gz")
    md5 = hashlib.md5((server / "cifar-10-binary.tar.gz").read_bytes()).hexdigest()
    spec = _cifar.SPECS["cifar10"]
    monkeypatch.setitem(_cifar.SPECS, "cifar10", _cifar.CifarSpec(**{**vars(spec), "md5": md5}))
    fake_server(server, monkeypatch)
    test = load_data("cifar10", "test")
    assert len(test) == 10 and test.labels.tolist() == [3] * 10
    assert sorted(p.name for p in cache.joinpath("cifar10").iterdir()) == ["cifar-10-batches-bin"]
    assert not (tmp_path / "escape.bin").exists() and not (cache / "escape.bin").exists()


def test_cifar10_archive_md5_mismatch(tmp_path, monkeypatch, cache):
    (tmp_path / "server").mkdir()
    cifar_archive(tmp_path / "server" / "cifar-10-binary.tar.gz")
    fake_server(tmp_path / "server", monkeypatch)
    with pytest.raises(DataError, match="MD5 checksum mismatch.*cifar-10-binary.tar.gz|"
                                        "cifar-10-binary.tar.gz.*MD5 checksum mismatch"):
        load_data("cifar10", "train")
    assert list((cache / "cifar10").iterdir()) == []


def test_fetch_url_reads_a_url(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"payload")
    _download.fetch_url((tmp_path / "a.bin").as_uri(), tmp_path / "b.bin")
    assert (tmp_path / "b.bin").read_bytes() == b"payload"
