"""ONNX export and onnxruntime serving for stand-alone networks (see issue: export)."""

__version__ = "0.1.0"
__all__ = ["__version__"]
