"""ONNX export and onnxruntime serving for stand-alone networks.

- :func:`export_onnx` (``nas export``): a trained model directory -> one self-contained ONNX
  file that takes uint8 ``(B, C, H, W)`` images and normalises them itself, with the
  architecture, class names and input size in its metadata; checked against PyTorch (parity)
  before it is renamed into place; optionally int8 (static QDQ quantization).
- :class:`OnnxClassifier` (``nas predict``): load such a file and classify torch tensors on
  onnxruntime (IO binding on torch buffers; no NumPy in our code).

User guide: ``docs/export.md``.
"""

from ._classifier import OnnxClassifier
from ._errors import ExportError, ParityError
from ._export import export_network, export_onnx, report_path
from ._graph import Uint8Classifier
from ._images import read_image, read_images
from ._metadata import FORMAT_VERSION, ModelInfo
from ._quantize import quantize_int8
from ._version import __version__

__all__ = [
    "FORMAT_VERSION",
    "ExportError",
    "ModelInfo",
    "OnnxClassifier",
    "ParityError",
    "Uint8Classifier",
    "__version__",
    "export_network",
    "export_onnx",
    "quantize_int8",
    "read_image",
    "read_images",
    "report_path",
]
