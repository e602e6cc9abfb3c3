"""Downloads (``_download.py``): the network is replaced by copies of local files; mirrors (HTTPS
first), sizes and checksums checked before anything is decompressed, caps, atomic writes, and the
message when the data cannot be found or fetched."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import struct
import subprocess
import sys
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


def fake_server(folder: Path, monkeypatch, only: str = "") -> list[str]:
    """``fetch_url`` serves ``folder/<last part of the URL>`` for URLs starting with ``only``
    (404 otherwise); returns the URLs asked for."""
    asked = []

    def fetch(url: str, dest: Path, progress=None, max_bytes=None) -> None:
        asked.append(url)
        source = folder / url.rsplit("/", 1)[1]
        if not source.is_file() or not url.startswith(only):
            raise urllib.error.HTTPError(url, 404, "not found", None, None)
        shutil.copyfile(source, dest)

    monkeypatch.setattr(_download, "fetch_url", fetch)
    return asked


def small_fashion_server(root: Path) -> dict[str, tuple[int, str]]:
    """Small Fashion-MNIST .gz files in ``root``; returns them as ``_idx.GZ_FILES`` pins them."""
    root.mkdir(parents=True)
    pins = {}
    for part, n in (("train", 30), ("test", 10)):
        images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8)
        labels = (torch.arange(n) % 10).to(torch.uint8)
        for base, array in zip(_idx.FILES[part], (images, labels)):
            data = idx_gz(array)
            (root / f"{base}.gz").write_bytes(data)
            pins[f"{base}.gz"] = (len(data), hashlib.sha256(data).hexdigest())
    return pins


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(_idx, "SYSTEM_DIRS", ())
    return tmp_path / "cache"


def test_fashion_mnist_is_downloaded_once_over_https_and_verified(tmp_path, monkeypatch, cache):
    monkeypatch.setattr(_idx, "GZ_FILES", small_fashion_server(tmp_path / "server"))
    asked = fake_server(tmp_path / "server", monkeypatch)
    data = load_data("fashion-mnist", "test")
    assert len(data) == 10 and len(asked) == 4 and all(u.startswith("https://") for u in asked)
    assert sorted(p.name for p in (cache / "fashion-mnist").iterdir()) == sorted(_idx.GZ_FILES)  # no temporary files
    load_data("fashion-mnist", "train")
    assert len(asked) == 4  # found in the cache the second time


def test_what_a_killed_download_left_is_removed_by_the_next(tmp_path, monkeypatch, cache):
    monkeypatch.setattr(_idx, "GZ_FILES", small_fashion_server(tmp_path / "server"))
    fake_server(tmp_path / "server", monkeypatch)
    gone = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)
    folder = cache / "fashion-mnist"
    (folder / f".download-{gone}-abc123").mkdir(parents=True)  # kill -9 mid-download leaves these
    (folder / f".download-{gone}-abc123" / "train-images-idx3-ubyte.gz").write_bytes(b"half")
    (folder / f".t10k-labels-idx1-ubyte.gz.{gone}.x1y2.part").write_bytes(b"half")
    (folder / f".download-{os.getpid()}-def456").mkdir()  # a download still running: kept
    assert len(load_data("fashion-mnist", "test")) == 10
    assert sorted(p.name for p in folder.iterdir()) == sorted([*_idx.GZ_FILES, f".download-{os.getpid()}-def456"])


def test_a_failing_mirror_hands_over_to_the_next(tmp_path, monkeypatch):
    monkeypatch.setattr(_idx, "GZ_FILES", small_fashion_server(tmp_path / "server"))
    asked = fake_server(tmp_path / "server", monkeypatch, only=_idx.MIRRORS[1])
    messages: list[str] = []
    assert len(load_data("fashion-mnist", "test", log=messages.append)) == 10
    assert [u.startswith(_idx.MIRRORS[0]) for u in asked] == [True, False] * 4
    assert sum("404" in m and f"trying {_idx.MIRRORS[1]}" in m for m in messages) == 4


@pytest.mark.parametrize("pin, message", [
    (lambda size, sha: (size, "0" * 64), "SHA256 checksum mismatch"),
    (lambda size, sha: (size + 1, sha), "bytes, expected"),
])
def test_wrong_bytes_are_refused_before_decompressing_and_keep_nothing(tmp_path, monkeypatch, cache,
                                                                       pin, message):
    pins = small_fashion_server(tmp_path / "server")
    monkeypatch.setattr(_idx, "GZ_FILES", {name: pin(*p) for name, p in pins.items()})
    asked = fake_server(tmp_path / "server", monkeypatch)
    monkeypatch.setattr(_idx, "gunzip", lambda *a: pytest.fail("decompressed before verification"))
    with pytest.raises(DataError, match=message) as err:
        load_data("fashion-mnist", "train")
    assert "train-images-idx3-ubyte.gz" in str(err.value) and "\n" not in str(err.value)
    assert len(asked) == len(_idx.MIRRORS)  # every mirror tried for the first file, then stopped
    assert list((cache / "fashion-mnist").iterdir()) == []


def test_offline_message_names_the_folders_tried_and_the_three_ways(monkeypatch, cache):
    fake_server(Path("/nonexistent"), monkeypatch)
    for download in (True, False):
        with pytest.raises(DataError) as err:
            load_data("fashion-mnist", "train", download=download)
        message = str(err.value)
        assert "\n" not in message and "--" not in message  # core names arguments, not flags
        assert f"not found (looked in {cache / 'fashion-mnist'}) and " in message
        for way in ("data_dir=DIR", "$NAS_DATA_DIR", "apt-get install dataset-fashion-mnist"):
            assert way in message
        assert err.value.arguments == ["data_dir"]


@pytest.mark.parametrize("dataset", ["fashion-mnist", "cifar10", "cifar100"])
def test_a_given_data_dir_without_the_data_is_an_error_never_a_download(tmp_path, monkeypatch, dataset):
    asked = fake_server(tmp_path, monkeypatch)
    (tmp_path / "empty").mkdir()
    for data_dir in (tmp_path / "empty", tmp_path / "mistyped"):
        with pytest.raises(DataError, match="files there|no such folder") as err:
            load_data(dataset, "train", data_dir=data_dir)
        assert str(err.value).startswith(f"{data_dir}: ") and "correct data_dir=DIR" in str(err.value)
    assert asked == [] and not (tmp_path / "cache").exists()


def test_the_cli_renders_the_advice_with_its_flags():
    with pytest.raises(DataError) as err:
        load_data("cifar10", "train", download=False)

    def flag(name: str, value: str | None) -> str:
        return f"--{name.replace('_', '-')}" + (f" {value}" if value is not None else "")

    flags = err.value.render(flag)
    assert flags.startswith("CIFAR-10 not found (looked in ") and " and download=False: " in flags
    assert "pass --data-dir DIR (cifar-10-batches-bin or its parent)" in flags


@pytest.mark.skipif(not DEBIAN.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_pinned_content_checksums_accept_debians_recompressed_files():
    """Debian re-compressed the official .gz files: other bytes (so a download from Debian would
    fail the .gz pins), the same content (so the content pins of ``strict`` pass)."""
    assert (DEBIAN / "t10k-labels-idx1-ubyte.gz").stat().st_size != _idx.GZ_FILES["t10k-labels-idx1-ubyte.gz"][0]
    assert len(load_data("fashion-mnist", "test", data_dir=DEBIAN, strict=True)) == 10_000


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


def serve_cifar(tmp_path, monkeypatch, **wrong) -> list[str]:
    """A small cifar-10-binary.tar.gz served, and pinned as ``_cifar.SPECS`` pins the real one
    (with the ``wrong`` fields given instead)."""
    server = tmp_path / "server"
    server.mkdir()
    cifar_archive(server / "cifar-10-binary.tar.gz")
    data = (server / "cifar-10-binary.tar.gz").read_bytes()
    pins = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "md5": hashlib.md5(data).hexdigest()}
    spec = _cifar.SPECS["cifar10"]
    monkeypatch.setitem(_cifar.SPECS, "cifar10", _cifar.CifarSpec(**{**vars(spec), **pins, **wrong}))
    return fake_server(server, monkeypatch)


def test_cifar10_archive_is_verified_and_extracted(tmp_path, monkeypatch, cache):
    serve_cifar(tmp_path, monkeypatch)
    test = load_data("cifar10", "test")
    assert len(test) == 10 and test.labels.tolist() == [3] * 10
    assert sorted(p.name for p in cache.joinpath("cifar10").iterdir()) == ["cifar-10-batches-bin"]
    assert not (tmp_path / "escape.bin").exists() and not (cache / "escape.bin").exists()


@pytest.mark.parametrize("wrong, message", [
    ({"sha256": "0" * 64}, "SHA256 checksum mismatch"),
    ({"md5": "0" * 32}, "MD5 checksum mismatch"),
    ({"size": 10}, "bytes, expected 10"),
])
def test_cifar10_archive_with_wrong_bytes_is_refused_before_extraction(tmp_path, monkeypatch, cache,
                                                                      wrong, message):
    serve_cifar(tmp_path, monkeypatch, **wrong)
    monkeypatch.setattr(_cifar, "extract_members", lambda *a: pytest.fail("extracted before verification"))
    with pytest.raises(DataError, match=message) as err:
        load_data("cifar10", "train")
    assert "cifar-10-binary.tar.gz" in str(err.value)
    assert list((cache / "cifar10").iterdir()) == []


def test_the_official_archives_are_pinned_by_sha256_and_size():
    for spec in _cifar.SPECS.values():
        assert spec.url.startswith("https://") and len(spec.sha256) == 64 and len(spec.md5) == 32
        assert 160_000_000 < spec.size < 180_000_000
    assert all(url.startswith("https://") for url in _idx.MIRRORS[:1])
    assert all(len(sha) == 64 and 5_000 < size < 30_000_000 for size, sha in _idx.GZ_FILES.values())


def test_fetch_url_reads_a_url(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"payload")
    _download.fetch_url((tmp_path / "a.bin").as_uri(), tmp_path / "b.bin")
    assert (tmp_path / "b.bin").read_bytes() == b"payload"


@pytest.mark.parametrize("announced", [True, False])
def test_fetch_url_stops_past_max_bytes(tmp_path, monkeypatch, announced):
    (tmp_path / "big.bin").write_bytes(bytes(3 * _download.CHUNK))
    if not announced:  # a server that does not say the size: the cap stops the transfer itself
        monkeypatch.setattr(_download, "_content_length", lambda response: None)
    with pytest.raises(DataError, match="expected at most 1,000"):
        _download.fetch_url((tmp_path / "big.bin").as_uri(), tmp_path / "b.bin", max_bytes=1000)
    assert (tmp_path / "b.bin").stat().st_size <= 1000


def test_local_files_are_capped_raw_and_decompressed(tmp_path, monkeypatch):
    """A gzip bomb stops at twice the official size of the file it claims to be."""
    small = {base: 100 for base in _idx.IDX_BYTES}  # smaller than the test files written below
    monkeypatch.setattr(_idx, "IDX_BYTES", small)
    for gz, message in ((True, "decompresses to more than the 200 bytes"), (False, "more than the 200")):
        folder = tmp_path / ("gz" if gz else "raw")
        folder.mkdir()
        for part, n in (("train", 10), ("test", 10)):
            for base, array in zip(_idx.FILES[part], (torch.zeros(n, 28, 28, dtype=torch.uint8),
                                                      torch.arange(n, dtype=torch.uint8))):
                data = idx_gz(array)
                (folder / (base + ".gz" if gz else base)).write_bytes(data if gz else gzip.decompress(data))
        with pytest.raises(DataError, match=message):
            load_data("fashion-mnist", "test", data_dir=folder)
