"""Hostile and mistaken inputs to `nas export` and `nas predict` (issue 14, sections 4 and 5), through
the real CLI: each refusal is exit 2 with one `error:` line, no traceback and no file left behind;
names from files never reach the terminal as escape sequences; good inputs still work."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import onnx
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from nas_cli._text import printable
from nas_cli.main import app
from nas_core import NetworkConfig, build_network, get_space
from nas_core.data import load_data
from nas_core.train import StandaloneConfig, train_standalone
from nas_export import ModelInfo, export_network
from nas_export._source import load_trained

runner = CliRunner()
HOSTILE_CLASSES = ("\x1b]0;pwned\x07cat", "\x1b[2Jdog", "\u202eowl", "eel\x9b31m")
TERMINAL_COMMANDS = ("\x1b]0;", "\x07", "\x1b[2J", "\u202e", "\x9b", "\x1b[31m")  # none may reach the output


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


pytestmark = pytest.mark.usefixtures("alarm")  # tests/conftest.py: fail, not hang, on a FIFO


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny network trained 2 steps on 16x16 synthetic images (result.json records the size)."""
    train, val = (load_data("synthetic", s, image_size=16, subset=40) for s in ("train", "val"))
    arch = get_space("tiny").sample(torch.Generator().manual_seed(1))
    config = StandaloneConfig(width=4, cells_per_stack=1, steps=2, batch_size=8, device="cpu", checkpoint_every=2)
    out = tmp_path_factory.mktemp("model")
    train_standalone(arch, config, train, val, out)
    return out


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory) -> Path:
    """An exported RGB 12x12 model whose class names are terminal escape sequences."""
    arch = get_space("tiny").sample(torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    net = build_network(arch, NetworkConfig(width=4, cells_per_stack=1, in_channels=3, num_classes=4)).eval()
    info = ModelInfo(arch, net.config, HOSTILE_CLASSES, 12, (0.5,) * 3, (0.25,) * 3, "synthetic\x1b[31m")
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    x = torch.randint(0, 256, (8, 3, 12, 12), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    export_network(net, info, out, images=x)
    return out


def one_error_line(result) -> str:
    """Exit 2, exactly one non-empty line (``error: ...``), no traceback, no terminal commands."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output and not any(c in result.output for c in TERMINAL_COMMANDS)
    return lines[0]


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# -- nas export: options that would give a silently wrong file ---------------------------------------

def test_export_refusals_are_one_line_and_write_nothing(model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path / "cache"))
    cifar_model = tmp_path / "cifar-model"  # a model of a data set that reads --data-dir
    shutil.copytree(model_dir, cifar_model)
    result = json.loads((cifar_model / "result.json").read_text())
    (cifar_model / "result.json").write_text(json.dumps({**result, "data": "cifar10"}))
    out = tmp_path / "out" / "m.onnx"
    cases = [
        ([str(model_dir), "--image-size", "5"], "trained on 16x16 images, not 5x5: leave out --image-size"),
        ([str(model_dir), "--image-size", "0"], "image_size 0 is not a size in pixels"),
        ([str(model_dir), "--opset", "99"], "opset 99 cannot be exported here"),
        ([str(model_dir), "--opset", "17"], "writes opsets 18 to"),
        ([str(model_dir), "--opset", "-1"], "choose --opset in 18.."),
        ([str(cifar_model), "--data-dir", str(tmp_path / "mistyped")],
         f"error: {tmp_path / 'mistyped'}: no such folder (expected the CIFAR-10 binary files"),
        ([str(cifar_model), "--data-dir", str(tmp_path)],
         f"error: {tmp_path}: no CIFAR-10 files there (expected the CIFAR-10 binary files in DIR or "
         "DIR/cifar-10-batches-bin): correct --data-dir DIR, or leave --data-dir out"),
    ]
    before = listing(tmp_path)
    for args, message in cases:
        line = one_error_line(runner.invoke(app, ["export", *args, "--out", str(out)]))
        assert message in line, (args, line)
    assert listing(tmp_path) == before and not (tmp_path / "cache").exists()


def test_the_recorded_image_size_or_the_same_one_is_exported(model_dir):
    assert load_trained(model_dir)[1].input_size == 16
    assert load_trained(model_dir, 16)[1].input_size == 16


# -- nas predict: untrusted image files ---------------------------------------------------------------

def hostile(kind: str, path: Path) -> Path:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dangling link":
        path.symlink_to(path.with_name("nowhere.png"))
    elif kind == "link loop":
        path.symlink_to(path.with_name("partner"))
        path.with_name("partner").symlink_to(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "not an image":
        path.write_text("\x1b]0;pwned\x07")
    elif kind == "bomb":
        Image.new("1", (9000, 9000)).save(path)
    return path


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
@pytest.mark.parametrize("kind, message", [
    ("fifo", "a FIFO, not an image file"),
    ("dangling link", "dangling symbolic link"),
    ("link loop", "symbolic link loop"),
    ("folder", "a folder, not an image file"),
    ("not an image", "cannot read image (not PNG, JPEG"),
    ("bomb", "cannot read image (9000x9000 pixels, more than the 67 megapixels"),
])
def test_predict_refuses_files_that_are_not_images(onnx_file, tmp_path, kind, message):
    path = hostile(kind, tmp_path / "x.png")
    line = one_error_line(runner.invoke(app, ["predict", str(onnx_file), str(path)]))
    assert line.startswith(f"error: {path}: {message}"), line


def test_names_from_files_are_printed_harmlessly(onnx_file, tmp_path):
    name = tmp_path / "evil\x1b[2J\u202e.png"
    Image.new("RGB", (20, 20), (200, 30, 30)).save(name, "PNG")
    result = runner.invoke(app, ["predict", str(onnx_file), str(name), "--top-k", "4"])
    assert result.exit_code == 0, result.output
    assert not any(c in result.output for c in TERMINAL_COMMANDS), repr(result.output)
    assert "evil\\x1b[2J\\u202e.png" in result.output
    for cls in HOSTILE_CLASSES:
        assert printable(cls) in result.output
    line = one_error_line(runner.invoke(app, ["predict", str(onnx_file), str(tmp_path / "no\x1b[31m.png")]))
    assert line.endswith("no\\x1b[31m.png: no such file")


def test_predict_refuses_a_model_whose_output_is_not_its_class_count(onnx_file, tmp_path):
    proto = onnx.load(str(onnx_file))
    props = {p.key: p for p in proto.metadata_props}
    props["nas.classes"].value = json.dumps(["a", "b", "c"])
    props["nas.network"].value = json.dumps({**json.loads(props["nas.network"].value), "num_classes": 3})
    onnx.save(proto, str(tmp_path / "m.onnx"))
    Image.new("RGB", (12, 12)).save(tmp_path / "a.png")
    line = one_error_line(runner.invoke(app, ["predict", str(tmp_path / "m.onnx"), str(tmp_path / "a.png")]))
    assert "output is tensor(float) ['batch', 4], metadata says float (batch, 3)" in line


def test_predict_on_a_one_class_folder_is_one_line(onnx_file, tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path / "cache"))
    (tmp_path / "imgs" / "only").mkdir(parents=True)
    for i in range(4):
        Image.new("RGB", (12, 12), (i, 0, 0)).save(tmp_path / "imgs" / "only" / f"{i}.png")
    line = one_error_line(runner.invoke(app, ["predict", str(onnx_file), "--dataset", "folder",
                                              "--data-dir", str(tmp_path / "imgs"), "--split", "val"]))
    assert f"{tmp_path / 'imgs'}: images of one class only ('only'); a classifier needs at least 2" in line


def test_arch_json_of_no_known_version_or_with_unknown_keys_is_one_line(tmp_path):
    arch = get_space("tiny").sample(torch.Generator().manual_seed(0)).to_dict()
    for change, message in (({"format_version": 0}, "format_version: 0 is not a format version"),
                            ({"format_version": True}, "format_version: True is not a format version"),
                            ({"reduction": []}, "unknown key 'reduction'")):
        (tmp_path / "a.json").write_text(json.dumps({**arch, **change}))
        assert message in one_error_line(runner.invoke(app, ["space", "validate", str(tmp_path / "a.json")]))
    (tmp_path / "a.json").write_text(json.dumps(arch))
    assert runner.invoke(app, ["space", "validate", str(tmp_path / "a.json")]).exit_code == 0


# -- printable ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, shown", [
    ("shoe.png", "shoe.png"),
    ("T-shirt/top", "T-shirt/top"),
    ("Ünïcödé 猫 🐈", "Ünïcödé 猫 🐈"),
    ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
    ("\x1b[31mred", "\\x1b[31mred"),
    ("a\tb\nc\rd\x00", "a\\x09b\\x0ac\\x0dd\\x00"),
    ("\x9b31m\x85", "\\x9b31m\\x85"),  # C1: CSI, NEL
    ("\x7f", "\\x7f"),
    ("gnp.\u202eevil", "gnp.\\u202eevil"),
    ("\u2066x\u2069\u200f\u061c", "\\u2066x\\u2069\\u200f\\u061c"),
    ("line\u2028sep", "line\\u2028sep"),
    ("bad\udcff.png", "bad\\xff.png"),  # an undecodable byte of a file name (surrogateescape)
])
def test_printable(text, shown):
    assert printable(text) == shown and printable(shown) == shown
