"""A data set's files are read once per process (``_cache.py``): a run's train, val and test
splits cost one read of the training files and one of the test files, and say "reading" once."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nas_core.data import DataSpec, _idx, _registry, clear_data_cache, load_data

N_TRAIN, N_TEST = 40, 10


def write_fashion(folder: Path, fill: int | None = None) -> None:
    """The 4 Fashion-MNIST IDX files (raw), random images or all pixels ``fill``."""
    folder.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    for part, n in (("train", N_TRAIN), ("test", N_TEST)):
        images = torch.randint(0, 256, (n, 28, 28), generator=gen, dtype=torch.uint8)
        if fill is not None:
            images.fill_(fill)
        labels = (torch.arange(n) % 10).to(torch.uint8)
        for base, array in zip(_idx.FILES[part], (images, labels)):
            header = bytes((0, 0, 8, array.dim())) + struct.pack(f">{array.dim()}I", *array.shape)
            (folder / base).write_bytes(header + bytes(array.view(-1).tolist()))


@pytest.fixture
def reads(monkeypatch, offline) -> list[str]:
    """The parts the Fashion-MNIST reader is asked for (a fresh cache: the reader is new)."""
    asked = []

    def counting(part, req):
        asked.append(part)
        return _idx.read_fashion_mnist(part, req)

    monkeypatch.setitem(_registry._READERS, "fashion-mnist", counting)
    return asked


def test_a_runs_three_splits_read_each_file_once_and_say_so_once(tmp_path, reads):
    write_fashion(tmp_path / "fm")
    spec = DataSpec("fashion-mnist", data_dir=str(tmp_path / "fm"), subsets={"train": 20})
    messages: list[str] = []
    train, val, test = spec.load("train", messages.append), spec.load("val", messages.append), \
        spec.load_test(messages.append)
    assert sorted(reads) == ["test", "train"]
    assert [m for m in messages if "reading" in m] == [f"fashion-mnist: reading {tmp_path / 'fm'}"]
    assert (len(train), len(val), len(test)) == (20, 4, N_TEST)
    assert train.mean == val.mean == test.mean  # the statistics of the training files, computed once
    again = spec.load("train", messages.append)
    assert torch.equal(again.images, train.images) and len(reads) == 2


def test_other_settings_or_a_cleared_cache_read_again(tmp_path, reads):
    write_fashion(tmp_path / "fm")
    messages: list[str] = []
    load_data("fashion-mnist", "train", data_dir=tmp_path / "fm", log=messages.append)
    load_data("fashion-mnist", "train", data_dir=tmp_path / "fm", image_size=14)  # resized: another entry
    assert reads == ["train", "train"]
    write_fashion(tmp_path / "fm", fill=7)  # changed on disk: this process still has the old copy
    kept = load_data("fashion-mnist", "train", data_dir=tmp_path / "fm")
    assert len(reads) == 2 and int(kept.images.max()) > 7
    clear_data_cache()
    fresh = load_data("fashion-mnist", "train", data_dir=tmp_path / "fm", log=messages.append)
    assert len(reads) == 3 and int(fresh.images.max()) == 7
    assert sum("reading" in m for m in messages) == 2  # one line per actual read


def test_another_process_reads_the_files_as_they_are_now(tmp_path, reads):
    write_fashion(tmp_path / "fm")
    load_data("fashion-mnist", "train", data_dir=tmp_path / "fm")
    write_fashion(tmp_path / "fm", fill=9)
    code = ("from nas_core.data import load_data; "
            f"print(int(load_data('fashion-mnist', 'train', data_dir={str(tmp_path / 'fm')!r}).images.max()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    assert out.stdout.strip() == "9"
