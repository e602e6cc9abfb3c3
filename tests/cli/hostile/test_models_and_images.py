"""Hostile models and images for `nas export` and `nas predict` (issue 14, parts 4 and 5): model
folders whose files are damaged or foreign, options that would export a silently wrong file, ONNX
files that are not what they claim, image files that are FIFOs, links, bombs, other formats, and
names that carry terminal escapes. Each is refused with exit 2 and one line, with no ESC byte in
the output and no file written (``conftest.refused``).

Not repeated here (tests/export/test_untrusted.py, tests/cli/test_untrusted.py): the exporter's
opset checks, metadata of no known version, a good image whose name carries escapes.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import onnx
import pytest
from PIL import Image


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


def result_json(change):
    def damage(folder: Path) -> None:
        path = folder / "result.json"
        data = change(json.loads(path.read_text()))
        path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return damage


def other_arch(result: dict) -> dict:
    arch = dict(result["arch"])
    arch["normal"] = arch["reduce"] = [{"inputs": [0], "ops": ["identity"]}] * len(arch["normal"])
    return {**result, "arch": arch}


def safetensors(damage):
    return lambda folder: damage(folder / "model.safetensors")


MODEL_DAMAGE = {
    "weights bit-flipped": safetensors(flip),
    "weights truncated": safetensors(lambda p: p.write_bytes(p.read_bytes()[:100])),
    "weights missing": safetensors(lambda p: p.unlink()),
    "weights a folder": safetensors(lambda p: (p.unlink(), p.mkdir())),
    "weights a fifo": safetensors(lambda p: (p.unlink(), os.mkfifo(p))),
    "weights a dangling link": safetensors(lambda p: (p.unlink(), p.symlink_to("nowhere"))),
    "result.json empty": result_json(lambda r: b""),
    "result.json latin-1": result_json(lambda r: b'{"arch": "\xe9"}'),
    "result.json 5001 digits": result_json(lambda r: json.dumps(r).replace('"params": ', '"params": ' + "9" * 5001 +
                                                                           ", \"x\": ").encode()),
    "result.json deep": result_json(lambda r: b"[" * 100_000 + b"]" * 100_000),
    "result.json a list": result_json(lambda r: [r]),
    "result.json no arch": result_json(lambda r: {k: v for k, v in r.items() if k != "arch"}),
    "result.json arch a string": result_json(lambda r: {**r, "arch": "tiny|normal:0>id"}),
    "result.json another arch": result_json(other_arch),
    "result.json another space": result_json(lambda r: {**r, "arch": {**r["arch"], "space": "bender2018"}}),
    "result.json unknown space": result_json(lambda r: {**r, "arch": {**r["arch"], "space": "nope"}}),
    "result.json escapes": result_json(lambda r: {**r, "arch": {**r["arch"], "space": "\x1b]0;pwned\x07"}}),
}


@pytest.mark.parametrize("kind", MODEL_DAMAGE)
def test_export_of_a_damaged_model_folder_is_refused(refused, model_dir, tmp_path, kind):
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    MODEL_DAMAGE[kind](folder)
    refused(["export", folder, "--out", "m.onnx"])


@pytest.mark.parametrize("args, message", [
    (["--image-size", "5"], "trained on 12x12 images, not 5x5"),
    (["--image-size", "0"], "not a size in pixels"),
    (["--image-size", "-1"], ""),
    (["--image-size", str(2**70)], ""),
    (["--image-size", "nan"], ""),
    (["--opset", "99"], "opset 99"),
    (["--opset", "17"], "opsets 18 to"),
    (["--opset", "-1"], ""),
    (["--opset", str(2**70)], ""),
    (["--calibration", "0"], ""),
    (["--subset", "0"], ""),
    (["--quantize", "int4"], ""),
    (["--out", "/dev/null/m.onnx"], ""),
    (["--out", "/proc/nas/m.onnx"], ""),
    (["--out", "folder"], ""),
    (["--out", ""], ""),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_export_options_that_would_write_a_wrong_file_are_refused(refused, model_dir, args, message):
    refused(["export", model_dir, "--out", "m.onnx", *args], {"folder/x": b""}, message, watch=[model_dir])


@pytest.mark.parametrize("source", ["nowhere", "file", "empty", "", "/dev/null"])
def test_export_from_something_that_is_no_model_folder_is_refused(refused, source):
    refused(["export", source, "--out", "m.onnx"], {"file": b"x", "empty/.keep": b""})


# -- nas predict: models ------------------------------------------------------------------------

def onnx_with(change):
    def make(original: Path, path: Path) -> None:
        proto = onnx.load(str(original))
        change(proto)
        onnx.save(proto, str(path))
    return make


def set_meta(key: str, value: str):
    def change(proto) -> None:
        for p in proto.metadata_props:
            if p.key == key:
                p.value = value
    return change


def raw(content: bytes):
    return lambda original, path: path.write_bytes(content)


MODELS = {
    "empty": raw(b""),
    "text": raw(b"\x1b]0;pwned\x07 not a model"),
    "random bytes": raw(bytes(range(256)) * 8),
    "truncated": lambda original, path: path.write_bytes(original.read_bytes()[:2000]),
    "bit-flipped": lambda original, path: (shutil.copy(original, path), flip(path)),
    "no metadata": onnx_with(lambda proto: proto.ClearField("metadata_props")),
    "classes not json": onnx_with(set_meta("nas.classes", "[\"a\", ")),
    "classes deep": onnx_with(set_meta("nas.classes", "[" * 100_000 + "]" * 100_000)),
    "classes 5001 digits": onnx_with(set_meta("nas.classes", "[" + "9" * 5001 + "]")),
    "three classes": onnx_with(set_meta("nas.classes", "[\"a\", \"b\", \"c\"]")),
    "format_version true": onnx_with(set_meta("nas.format_version", "true")),
    "network not json": onnx_with(set_meta("nas.network", "{")),
    "a folder": lambda original, path: path.mkdir(),
    "a fifo": lambda original, path: os.mkfifo(path),
    "a link loop": lambda original, path: path.symlink_to(path.name),
}


@pytest.mark.parametrize("kind", MODELS)
def test_predict_with_a_model_that_is_not_what_it_claims_is_refused(refused, onnx_file, tmp_path, kind):
    MODELS[kind](onnx_file, tmp_path / "m.onnx")
    Image.new("RGB", (12, 12)).save(tmp_path / "x.png")
    refused(["predict", "m.onnx", "x.png"])


@pytest.mark.parametrize("args, message", [
    (["x.png", "--dataset", "synthetic"], "one of the two"),
    (["x.png", "--device", "cuda"], "cpu or auto"),
    (["x.png", "--device", "tpu\x1b[31m"], "cpu or auto"),
    (["x.png", "--top-k", "0"], ""),
    (["x.png", "--batch-size", "0"], ""),
    (["--dataset", "nope"], "nope"),
    (["--dataset", "fashion-mnist"], "channel"),  # a grayscale data set for an RGB model: before reading
    (["--dataset", "synthetic", "--split", "nope"], "nope"),
    (["--dataset", "cifar10", "--data-dir", "mistyped"], "mistyped"),
    (["--dataset", "folder", "--split", "val", "--data-dir", "mistyped"], "mistyped"),
    (["--dataset", "synthetic", "--subset", "0"], ""),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_predict_options_that_cannot_work_are_refused(refused, onnx_file, args, message):
    Image.new("RGB", (12, 12)).save("x.png")
    refused(["predict", onnx_file, *args], message=message)


# -- nas predict: images --------------------------------------------------------------------------

def image(fmt: str, size=(20, 20), mode="RGB"):
    return lambda path: Image.new(mode, size, (200, 30, 30) if mode == "RGB" else 0).save(path, fmt)


IMAGES = {
    "fifo": os.mkfifo,
    "dangling link": lambda path: path.symlink_to("nowhere.png"),
    "link loop": lambda path: path.symlink_to(path.name),
    "folder": lambda path: path.mkdir(),
    "missing": None,
    "empty": lambda path: path.write_bytes(b""),
    "text with escapes": lambda path: path.write_text("\x1b]0;pwned\x07\x1b[2J"),
    "truncated png": lambda path: (image("PNG")(path), path.write_bytes(path.read_bytes()[:60])),
    "bomb": image("PNG", (9000, 9000), "1"),
    "pdf": image("PDF"),
    "ico": image("ICO", (16, 16)),
    "eps-like text": lambda path: path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n"),
}


@pytest.mark.parametrize("name", ["x.png", "evil\x1b]0;pwned\x07\x1b[2J.png", "\u202egnp.exe"])
@pytest.mark.parametrize("kind", IMAGES)
def test_predict_refuses_files_that_are_not_images_and_names_them_harmlessly(refused, onnx_file, tmp_path, kind,
                                                                           name):
    if IMAGES[kind] is not None:
        IMAGES[kind](tmp_path / name)
    Image.new("RGB", (12, 12)).save(tmp_path / "good.png")
    refused(["predict", onnx_file, "good.png", name])


def test_a_folder_data_set_of_hostile_files_is_refused(refused, onnx_file, tmp_path):
    """Every file of the folder data set is a FIFO, link, bomb or not an image: nothing to read."""
    for cls in ("cat", "dog\x1b[31m"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for kind in ("fifo", "dangling link", "link loop", "text with escapes", "bomb"):
            IMAGES[kind](tmp_path / "data" / cls / f"{kind}.png")
    refused(["predict", onnx_file, "--dataset", "folder", "--split", "train", "--data-dir", "data"])
