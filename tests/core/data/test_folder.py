"""The ``folder`` data set (``_folder.py``): PNGs written with Pillow, the decode cache, and
unreadable images."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from nas_core.data import DataError, _folder, load_data


def write_png(path: Path, colour: tuple[int, ...] | int, size: tuple[int, int] = (40, 30),
              mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)


def make_folder(root: Path, counts: dict[str, int], mode: str = "RGB") -> Path:
    """``root/<class>/<i>.png``: class ``k`` is filled with a colour that identifies it."""
    for k, (name, n) in enumerate(counts.items()):
        for i in range(n):
            colour = 40 * k + i if mode == "L" else (40 * k, i, 200)
            write_png(root / name / f"{i:03d}.png", colour, mode=mode)
    return root


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def load(root: Path, split: str = "train", **kw):
    messages: list[str] = []
    data = load_data("folder", split, data_dir=root, val_fraction=0.0 if split == "train" else 0.2,
                     log=messages.append, **kw)
    return data, messages


def test_reads_classes_and_images(tmp_path):
    root = make_folder(tmp_path / "imgs", {"dog": 3, "cat": 2})
    (root / "cat" / "notes.txt").write_text("not an image")  # ignored: not an image suffix
    (root / "empty").mkdir()  # ignored: no images, not a class
    data, messages = load(root, image_size=16)
    assert data.classes == ("cat", "dog") and data.images.shape == (5, 3, 16, 16)
    assert any("without images: empty" in m for m in messages)
    assert data.labels.tolist() == [0, 0, 1, 1, 1]  # file order
    assert data.images[0, :, 8, 8].tolist() == [40, 0, 200]  # cat/000.png (class k=1 in dict)
    assert data.images[4, :, 8, 8].tolist() == [0, 2, 200]  # dog/002.png
    assert data.mean[2] == pytest.approx(200 / 255)


def test_grayscale_folder_has_one_channel(tmp_path):
    root = make_folder(tmp_path / "imgs", {"a": 2, "b": 2}, mode="L")
    data, _ = load(root)
    assert data.channels == 1 and data.image_size == 32
    write_png(root / "a" / "colour.png", (1, 2, 3))
    assert load(root)[0].channels == 3  # one colour image: all RGB


def test_second_load_comes_from_the_cache(tmp_path, monkeypatch, cache):
    root = make_folder(tmp_path / "imgs", {"a": 3, "b": 3})
    first, messages = load(root)
    assert any("decoding 6 images" in m for m in messages)
    assert list(cache.glob("folder/*/images-32.safetensors"))

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded although cached")

    monkeypatch.setattr(_folder, "open_image", no_decoding)
    second, messages = load(root)
    assert any("from the cache" in m for m in messages)
    assert torch.equal(first.images, second.images) and first.mean == second.mean


def test_what_a_killed_cache_writer_left_is_removed_by_the_next(tmp_path, cache):
    root = make_folder(tmp_path / "imgs", {"a": 3, "b": 3})
    load(root)
    (written,) = cache.glob("folder/*/images-32.safetensors")
    written.unlink()  # decode again, and write the cache again
    gone = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)
    stale = written.parent / f".images-32.safetensors.{gone}.abcd1234.tmp"  # kill -9 mid-write leaves it
    live = written.parent / f".images-32.safetensors.{os.getpid()}.efgh5678.tmp"  # a writer still running
    stale.write_bytes(b"half"), live.write_bytes(b"half")
    load(root)
    assert written.exists() and not stale.exists() and live.exists()
    assert sorted(p.name for p in written.parent.glob(".*")) == [live.name]


def test_changed_folder_is_read_again(tmp_path):
    root = make_folder(tmp_path / "imgs", {"a": 3, "b": 3})
    load(root)
    path = root / "a" / "000.png"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touch
    data, messages = load(root)
    assert any("changed" in m for m in messages) and len(data) == 6
    write_png(root / "b" / "new.png", (9, 9, 9))
    assert len(load(root)[0]) == 7
    assert any("decoding" in m for m in load(root, image_size=8)[1])  # new size: new cache


def test_unreadable_image_is_skipped_and_counted(tmp_path):
    root = make_folder(tmp_path / "imgs", {"a": 3, "b": 3})
    (root / "b" / "broken.png").write_bytes(b"\x89PNG not really")
    data, messages = load(root)
    assert len(data) == 6
    assert any("skipped 1 unreadable" in m and "b/broken.png" in m for m in messages)
    data, messages = load(root)  # from the cache: still reported
    assert any("skipped 1" in m for m in messages)
    with pytest.raises(DataError, match="broken.png"):
        load(root, strict=True)


def test_val_is_held_out_and_test_is_an_error(tmp_path):
    root = make_folder(tmp_path / "imgs", {"a": 5, "b": 5})
    val, _ = load(root, "val")
    train = load_data("folder", "train", data_dir=root, val_fraction=0.2)
    assert len(val) == 2 and len(train) == 8 and val.labels.tolist() == [0, 1]
    with pytest.raises(DataError, match="no test files"):
        load_data("folder", "test", data_dir=root)


def test_bad_folders(tmp_path):
    with pytest.raises(DataError, match="none was given: pass data_dir=DIR"):
        load_data("folder", "train")
    with pytest.raises(DataError, match="not a folder"):
        load_data("folder", "train", data_dir=tmp_path / "missing")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="no images"):
        load_data("folder", "train", data_dir=tmp_path / "empty")
