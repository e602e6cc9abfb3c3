"""`nas predict --dataset` checks the model against the data set before reading or downloading
anything (``nas_core.data.dataset_shape``), and the registry's shapes are those load_data gives."""

import socket

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from nas_cli.main import app
from nas_core import NetworkConfig, build_network, get_space
from nas_core.data import DataError, DataSpec, dataset_shape, list_datasets, load_data
from nas_export import ModelInfo, export_network

runner = CliRunner()


def export_tiny(out, channels: int, size: int):
    """A tiny network (random weights) exported to ``out`` for ``channels`` x ``size`` images."""
    arch = get_space("tiny").sample(torch.Generator().manual_seed(0))
    config = NetworkConfig(width=4, cells_per_stack=1, in_channels=channels, num_classes=10)
    torch.manual_seed(0)
    net = build_network(arch, config).eval()
    info = ModelInfo(arch, config, tuple(f"class_{k}" for k in range(10)), size, (0.5,) * channels,
                     (0.25,) * channels, "fashion-mnist" if channels == 1 else "synthetic")
    x = torch.randint(0, 256, (8, channels, size, size), dtype=torch.uint8, generator=torch.Generator())
    export_network(net, info, out, images=x)
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("models")
    yield {"gray": export_tiny(folder / "gray.onnx", 1, 12), "rgb": export_tiny(folder / "rgb.onnx", 3, 12)}
    torch.set_num_threads(threads)


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to reach the network or fetch a data set is recorded and fails."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network touched: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr("nas_core.data._download.fetch_url", refuse, raising=False)
    return attempts


def test_a_gray_model_on_cifar10_is_exit_2_before_any_download(models, tmp_path, monkeypatch, offline):
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("NAS_DATA_DIR", str(cache))
    result = runner.invoke(app, ["predict", str(models["gray"]), "--dataset", "cifar10",
                                 "--data-dir", str(tmp_path / "does-not-exist")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert lines[0].startswith("error: gray.onnx takes 1-channel images (grayscale), cifar10 has 3 (RGB)")
    assert offline == [] and list(cache.iterdir()) == [] and not (tmp_path / "does-not-exist").exists()


def test_an_rgb_model_on_fashion_mnist_is_exit_2_before_reading(models, tmp_path, monkeypatch, offline):
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(DataSpec, "load", lambda *a, **k: pytest.fail("loaded the data set"))
    result = runner.invoke(app, ["predict", str(models["rgb"]), "--dataset", "fashion-mnist"])
    assert result.exit_code == 2 and "takes 3-channel images (RGB), fashion-mnist has 1" in result.output


def test_a_matching_data_set_of_another_size_is_resized_with_a_note(models):
    result = runner.invoke(app, ["predict", str(models["rgb"]), "--dataset", "synthetic", "--subset", "50"])
    assert result.exit_code == 0, result.output
    assert "synthetic: 32x32 images resized to the model's 12x12" in result.output
    assert "accuracy " in result.output and "50 synthetic test images" in result.output


def test_a_folder_is_checked_once_its_images_are_read(models, tmp_path):
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.new("RGB", (20, 20), (40 * i, 200, 10)).save(tmp_path / label / f"{i}.png")
    result = runner.invoke(app, ["predict", str(models["gray"]), "--dataset", "folder",
                                 "--data-dir", str(tmp_path), "--split", "val"])
    assert result.exit_code == 2 and "3 channels, the model takes 1" in result.output


@pytest.mark.parametrize("name", list_datasets())
def test_registry_shapes_are_what_load_data_gives(name):
    shape = dataset_shape(name)
    if shape is None:
        assert name == "folder"  # RGB or grayscale: only its files tell
        return
    assert dataset_shape(name, image_size=9) == (shape[0], 9)
    try:
        data = load_data(name, "test", subset=10, download=False)
    except DataError:
        pytest.skip(f"{name} is not available here")
    assert tuple(data.images.shape[1:]) == (shape[0], shape[1], shape[1])


def test_unknown_data_set_is_a_data_error():
    with pytest.raises(DataError, match="unknown data set 'nope'"):
        dataset_shape("nope")
