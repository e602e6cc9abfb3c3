"""Where an export starts: a trained model directory (or a run directory's ``best/``), its input
size, and images of its data set for the parity check and int8 calibration.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError

from nas_core.data import DataError, ImageData, load_data
from nas_core.network import Network
from nas_core.train import latest_checkpoint, load_network, read_state

from ._errors import ExportError
from ._metadata import ModelInfo

Log = Callable[[str], None]
MAX_IMAGE_SIZE = 4096  # pixels: a larger image_size is a mistake, not a network to export


def resolve_model_dir(path: str | Path) -> Path:
    """``path`` itself if it holds ``result.json``, or ``path/best`` for a ``nas run`` directory."""
    path = Path(path)
    if (path / "best" / "result.json").is_file():
        return path / "best"
    if (path / "result.json").is_file():
        return path
    if not path.exists():
        raise ExportError(f"{path}: no such directory")
    raise ExportError(f"{path}: neither a model directory (no result.json) nor a run directory "
                      "(no best/result.json)")


def load_trained(model_dir: Path, image_size: int | None = None) -> tuple[Network, ModelInfo, dict]:
    """The trained network (eval mode, CPU), its :class:`ModelInfo` and its ``result.json``.
    ``image_size`` is for model directories that do not record the size the network was trained
    at; where they do, another size is refused (the export would run on images it never saw)."""
    try:
        net, result = load_network(model_dir)
    except (OSError, SafetensorError, RuntimeError, ValueError, KeyError) as e:
        raise ExportError(f"{model_dir}: cannot load the trained network ({_first_line(e)})") from None
    return net, ModelInfo.from_result(result, _input_size(model_dir, result, image_size)), result


def _input_size(model_dir: Path, result: dict[str, Any], image_size: int | None) -> int:
    trained = _trained_size(model_dir, result)
    if image_size is not None and (type(image_size) is not int or not 1 <= image_size <= MAX_IMAGE_SIZE):
        raise ExportError(f"image_size {image_size} is not a size in pixels (1..{MAX_IMAGE_SIZE})")
    if trained is not None and image_size not in (None, trained):
        raise ExportError(f"{model_dir}: the network was trained on {trained}x{trained} images, not "
                          f"{image_size}x{image_size}",
                          hint="leave out {image_size}: it is only for model directories that do not "
                               "record their size")
    if trained is None and image_size is None:
        raise ExportError(f"{model_dir}: cannot tell the image size the network was trained at "
                          "(no image_size in result.json, no checkpoint)", hint="pass {image_size}")
    return trained or image_size


def _trained_size(model_dir: Path, result: dict[str, Any]) -> int | None:
    """The image size the network was trained at: ``result.json`` (``image_size`` or
    ``input_shape``), else the data shape recorded by the newest training checkpoint; None when
    neither tells."""
    shape = result.get("input_shape")
    if _pixels(result.get("image_size")):
        return result["image_size"]
    if isinstance(shape, list) and shape and _pixels(shape[-1]):
        return shape[-1]
    checkpoint = latest_checkpoint(model_dir)
    if checkpoint is not None:
        shape = read_state(checkpoint).get("data", {}).get("shape")
        if isinstance(shape, list) and len(shape) == 3 and _pixels(shape[-1]):
            return shape[-1]
    return None


def _pixels(value: Any) -> bool:
    return type(value) is int and value >= 1


def dataset_images(info: ModelInfo, split: str, count: int, data_dir: Path | None,
                   log: Log) -> ImageData | None:
    """``count`` class-balanced images of the model's data set at its input size. Files are only
    read locally (no download); without ``data_dir``, a data set that cannot be loaded gives
    None with a note in ``log``; with ``data_dir`` it is an error (:class:`DataError`)."""
    try:
        data = load_data(info.dataset, split, data_dir=data_dir, subset=count,
                         image_size=info.input_size, download=False, log=log)
    except DataError as e:
        if data_dir is not None:
            raise
        log(f"{info.dataset} {split} split not available here ({e})")
        return None
    if data.channels != info.channels:
        raise ExportError(f"{info.dataset} images have {data.channels} channels, the model takes "
                          f"{info.channels}")
    return data


def noise_images(info: ModelInfo, count: int, seed: int = 0) -> torch.Tensor:
    """Uniform random uint8 images: the parity check's fallback when no data set is available."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, *info.input_shape), generator=gen, dtype=torch.uint8)


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0]
