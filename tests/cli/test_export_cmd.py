"""`nas export` and `nas predict` through Typer's CliRunner (a tiny model trained on synthetic data)."""

import json
import shutil

import onnx
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from nas_cli.main import app
from nas_core import get_space
from nas_core.data import load_data
from nas_core.train import StandaloneConfig, train_standalone
from nas_export import ParityError

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny network: threads only add overhead on a busy CPU
    train, val = (load_data("synthetic", s, image_size=16, subset=n) for s, n in (("train", 320), ("val", 100)))
    arch = get_space("tiny").sample(torch.Generator().manual_seed(1))
    config = StandaloneConfig(width=4, cells_per_stack=1, steps=20, batch_size=32, lr=0.4, device="cpu",
                              checkpoint_every=20)
    out = tmp_path_factory.mktemp("model")
    train_standalone(arch, config, train, val, out)
    yield out
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def onnx_file(model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    result = runner.invoke(app, ["export", str(model_dir), "--out", str(out), "--subset", "100"])
    assert result.exit_code == 0, result.output
    assert "top-1 agreement" in result.output and "100.00% with PyTorch" in result.output
    return out


@pytest.fixture
def pictures(tmp_path):
    """Two image files: an RGB PNG of another size and a grayscale JPEG."""
    Image.new("RGB", (40, 30), (230, 60, 60)).save(tmp_path / "red.png")
    Image.new("L", (16, 16), 128).save(tmp_path / "gray.jpg")
    return [tmp_path / "red.png", tmp_path / "gray.jpg"]


def error_line(result) -> str:
    """The output must end with exactly one ``error:`` line and hold no traceback."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output and lines[-1].startswith("error: "), result.output
    assert sum(line.startswith("error: ") for line in lines) == 1
    return lines[-1]


def test_export_writes_the_model_and_its_report(onnx_file, model_dir):
    report = json.loads(onnx_file.with_name("model.onnx.json").read_text())
    assert report["source"] == str(model_dir) and report["parity"]["images"] == 100
    assert report["parity"]["data"] == "100 synthetic val images"


def test_export_int8_from_a_run_directory(model_dir, tmp_path):
    shutil.copytree(model_dir, tmp_path / "run" / "best")
    out = tmp_path / "q.onnx"
    result = runner.invoke(app, ["export", str(tmp_path / "run"), "--out", str(out), "--quantize", "int8",
                                 "--calibration", "64", "--subset", "100"])
    assert result.exit_code == 0, result.output
    assert "int8" in result.output and "with fp32" in result.output
    assert out.exists() and (tmp_path / "q.fp32.onnx").exists()
    assert json.loads((tmp_path / "q.onnx.json").read_text())["quantization"] == "int8"


def test_predict_prints_top_k_per_image(onnx_file, pictures):
    result = runner.invoke(app, ["predict", str(onnx_file), *map(str, pictures), "--top-k", "2"])
    assert result.exit_code == 0, result.output
    assert "red.png" in result.output and "gray.jpg" in result.output
    assert result.output.count("class_") == 4 and "  1. " in result.output and "  2. " in result.output


def test_predict_on_a_dataset_reports_accuracy_and_speed(onnx_file):
    result = runner.invoke(app, ["predict", str(onnx_file), "--dataset", "synthetic", "--split", "test",
                                 "--subset", "100"])
    assert result.exit_code == 0, result.output
    assert "accuracy " in result.output and "images/s" in result.output and "100 synthetic test" in result.output


def test_bad_input_is_one_line_exit_2(model_dir, onnx_file, pictures, tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path / "cache"))
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(onnx_file.read_bytes()[:3000])
    foreign = tmp_path / "foreign.onnx"
    _strip_metadata(onnx_file, foreign)
    unreadable = tmp_path / "notes.png"
    unreadable.write_text("not an image")
    gray_folder = _gray_folder(tmp_path / "gray")
    cases = [
        (["predict", str(tmp_path / "missing.onnx"), str(pictures[0])], "no such file"),
        (["predict", str(corrupt), str(pictures[0])], "not a valid ONNX model"),
        (["predict", str(foreign), str(pictures[0])], "not exported by nas export"),
        (["predict", str(onnx_file), str(unreadable)], "cannot read image"),
        (["predict", str(onnx_file), str(tmp_path / "missing.png")], "no such file"),
        (["predict", str(onnx_file), "--dataset", "folder", "--data-dir", str(gray_folder), "--split", "val"],
         "1 channel, the model takes 3"),
        (["predict", str(onnx_file)], "one of the two"),
        (["predict", str(onnx_file), str(pictures[0]), "--dataset", "synthetic"], "one of the two"),
        (["predict", str(onnx_file), "--dataset", "nope"], "unknown data set"),
        (["export", str(tmp_path / "nothing"), "--out", str(tmp_path / "x.onnx")], "no such directory"),
        (["export", str(tmp_path), "--out", str(tmp_path / "x.onnx")], "neither a model directory"),
        (["export", str(model_dir), "--out", str(tmp_path), "--subset", "10"], "is a directory"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in error_line(result), (args, result.output)


def test_parity_failure_is_exit_1_and_writes_nothing(model_dir, tmp_path, monkeypatch):
    def disagree(*args, **kwargs):
        raise ParityError("top-1 agreement with PyTorch is 90.00% on 100 images (required 99.9%)")

    monkeypatch.setattr("nas_export._export.check_parity", disagree)
    out = tmp_path / "m.onnx"
    result = runner.invoke(app, ["export", str(model_dir), "--out", str(out), "--subset", "100"])
    assert result.exit_code == 1 and "export failed: top-1 agreement" in result.output
    assert "Traceback" not in result.output and not any(tmp_path.iterdir())


def _strip_metadata(path, out):
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    onnx.save(proto, str(out))


def _gray_folder(root):
    for name, value in (("dark", 40), ("light", 220)):
        (root / name).mkdir(parents=True)
        for i in range(6):
            Image.new("L", (16, 16), value + i).save(root / name / f"{i}.png")
    return root
