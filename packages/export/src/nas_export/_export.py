"""Export a trained stand-alone network to ONNX, check it against PyTorch, optionally quantize.

``export_onnx(model_dir, "model.onnx")`` writes ``model.onnx`` (checked by the ONNX checker and
by parity with PyTorch on validation images before it is renamed into place) and
``model.onnx.json``, the report it also returns. With ``quantize="int8"``, ``model.onnx`` is
the int8 model and the parity-checked float model it came from is kept as ``model.fp32.onnx``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx
import onnxruntime as ort
import torch
from torch import nn

from nas_core.data import ImageData
from nas_core.train import atomic_write_json

from ._classifier import OnnxClassifier
from ._errors import ExportError
from ._graph import DEFAULT_OPSET, Uint8Classifier, check_opset, file_opset, save_checked, staged, to_onnx
from ._metadata import FORMAT_VERSION, ModelInfo
from ._parity import MIN_AGREEMENT, check_parity, compare, latency_ms
from ._quantize import quantize_int8
from ._source import dataset_images, load_trained, noise_images, resolve_model_dir
from ._version import __version__

Images = ImageData | torch.Tensor | None
PARITY_IMAGES = 500  # validation images for the parity check
CALIBRATION_IMAGES = 256  # training images for int8 calibration


def export_onnx(source: str | Path, out: str | Path, *, quantize: str | None = None,
                calibration: int = CALIBRATION_IMAGES, images: Images = None,
                calibration_images: Images = None, data_dir: str | Path | None = None,
                subset: int = PARITY_IMAGES, image_size: int | None = None, opset: int = DEFAULT_OPSET,
                min_agreement: float = MIN_AGREEMENT, log: Callable[[str], None] | None = None) -> dict:
    """Export the network of a model directory (or a run directory's ``best/``) to ``out``.

    Parity images: ``images`` if given (uint8 tensor or :class:`ImageData`), else ``subset``
    images of the val split of the model's data set (read from ``data_dir`` or the local cache),
    else, with a note, random images. Calibration (``quantize="int8"``): ``calibration_images``,
    else ``calibration`` training images; random images are never used for it.
    Raises :class:`ExportError` (user mistakes) or :class:`ParityError`.
    """
    log = log or (lambda _: None)
    check_opset(opset)
    model_dir = resolve_model_dir(source)
    net, info, _ = load_trained(model_dir, image_size)
    data_dir = Path(data_dir) if data_dir is not None else None
    if images is None:
        images = dataset_images(info, "val", subset, data_dir, log)
    if quantize is not None and calibration_images is None:
        calibration_images = dataset_images(info, "train", calibration, data_dir, log)
        if calibration_images is None:
            raise ExportError(f"int8 calibration needs training images of {info.dataset}, and "
                              "none could be loaded here",
                              hint="pass {data_dir=DIR} or {calibration_images}")
    return export_network(net, info, out, images=images, quantize=quantize,
                          calibration_images=calibration_images, opset=opset,
                          min_agreement=min_agreement, log=log, source=str(model_dir))


def export_network(net: nn.Module, info: ModelInfo, out: str | Path, *, images: Images = None,
                   quantize: str | None = None, calibration_images: Images = None,
                   opset: int = DEFAULT_OPSET, min_agreement: float = MIN_AGREEMENT,
                   log: Callable[[str], None] | None = None, source: str | None = None) -> dict:
    """Export ``net`` (a stand-alone network taking normalised images) described by ``info``;
    the lower-level half of :func:`export_onnx`. Writes the ``.onnx`` file(s) and the report
    ``<out>.json``, and returns the report. ``images=None`` checks parity on random images.
    ``net`` itself is left as it is (a CPU copy is exported)."""
    log = log or (lambda _: None)
    check_opset(opset)
    if quantize not in (None, "int8"):
        raise ExportError(f"unknown quantization {quantize!r}: the choice is int8")
    if quantize and calibration_images is None:
        raise ExportError("int8 quantization needs calibration images")
    net = copy.deepcopy(net).cpu().eval()
    out = Path(out)
    fp32_path = out.with_name(f"{out.stem}.fp32{out.suffix}") if quantize else out
    x, labels, described = _parity_set(images, info)
    log(f"parity check on {described}")
    model = Uint8Classifier(net, info.mean, info.std).eval()
    with staged(fp32_path) as tmp:
        proto = to_onnx(net, info, opset)
        save_checked(proto, tmp)
        fp32 = OnnxClassifier(tmp)
        parity = check_parity(model, fp32, x, labels, min_agreement)
        fp32_figures = _figures(fp32, tmp, x)
    report = _report(info, out, file_opset(proto), {**parity, "data": described},
                     {"path": str(fp32_path), **fp32_figures}, source)
    if quantize:
        report["quantization"] = quantize
        report["int8"] = {"path": str(out), **_quantize(fp32_path, out, info, calibration_images, x, labels)}
    atomic_write_json(report_path(out), report)
    return report


def report_path(onnx_path: Path) -> Path:
    """Where the export report of ``model.onnx`` lives: ``model.onnx.json``."""
    return onnx_path.with_name(onnx_path.name + ".json")


def _parity_set(images: Images, info: ModelInfo) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    if isinstance(images, ImageData):
        return images.images, images.labels, f"{len(images)} {images.name} {images.split} images"
    if images is None:
        x = noise_images(info, PARITY_IMAGES)
        return x, None, f"{len(x)} random images (no {info.dataset} images available)"
    return images, None, f"{len(images)} given images"


def _quantize(fp32_path: Path, out: Path, info: ModelInfo, calibration: ImageData | torch.Tensor,
              x: torch.Tensor, labels: torch.Tensor | None) -> dict[str, Any]:
    calib = calibration.images if isinstance(calibration, ImageData) else calibration
    fp32 = OnnxClassifier(fp32_path)
    fp32.check_images(calib)
    with staged(out) as tmp:
        quantize_int8(fp32_path, tmp, calib, info)
        int8 = OnnxClassifier(tmp)
        found = compare(fp32.predict(x), int8.predict(x), labels)
        found = {"vs_fp32": found, "calibration_images": len(calib), "opset": file_opset(onnx.load(tmp)),
                 **_figures(int8, tmp, x)}
    return found


def _figures(model: OnnxClassifier, path: Path, x: torch.Tensor) -> dict[str, Any]:
    """File size and batch-1 latency of an exported file on this machine."""
    return {"bytes": path.stat().st_size, "latency_ms_batch1": latency_ms(model.predict, x[:1])}


def _report(info: ModelInfo, out: Path, opset: int, parity: dict, fp32: dict,
            source: str | None) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION, "export_version": __version__, "onnx": str(out),
        "source": source, "quantization": "none",
        "opset": opset, "arch_id": info.arch_id, "arch": str(info.arch), "dataset": info.dataset,
        "input": {"dtype": "uint8", "layout": "NCHW", "shape": ["batch", *info.input_shape]},
        "classes": list(info.classes), "parity": parity, "fp32": fp32, "int8": None,
        "versions": {"torch": torch.__version__, "onnxruntime": ort.__version__},
    }
