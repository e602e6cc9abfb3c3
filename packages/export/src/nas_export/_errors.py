"""The two ways an export or a prediction can fail, so callers (the CLI) can tell them apart."""

from __future__ import annotations

from nas_core.errors import InputError


class ExportError(InputError):
    """A mistake the user can fix: a missing or corrupt file, an ONNX model without our metadata,
    images of the wrong dtype, shape or channel count, an unreadable image. One-line message
    (the CLI prints it and exits with code 2)."""


class ParityError(RuntimeError):
    """The exported graph disagrees with PyTorch beyond tolerance: a bug in the exporter or the
    runtime, not a user mistake (the CLI exits with code 1). Nothing is written."""
