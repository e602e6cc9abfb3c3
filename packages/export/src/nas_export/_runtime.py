"""onnxruntime sessions fed and read through torch tensors (IO binding on their buffers).

Our code never builds a NumPy array: inputs are bound by ``data_ptr()`` of contiguous torch
tensors, outputs are written by onnxruntime straight into preallocated torch tensors. Loading
a model parses a protobuf; no code from the file runs.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import onnxruntime as ort
import torch
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

from ._errors import ExportError

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
_LOAD_ERRORS = (ort_errors.Fail, ort_errors.InvalidArgument, ort_errors.InvalidGraph,
                ort_errors.InvalidProtobuf, ort_errors.NoSuchFile, ort_errors.NotImplemented,
                ort_errors.RuntimeException)


def resolve_providers(providers: list[str] | str | None) -> list[str]:
    """``None`` -> CPU only; ``"auto"`` -> CUDA first where onnxruntime-gpu has it; else a list,
    each of which must be available here."""
    available = ort.get_available_providers()
    if providers is None:
        return [CPU]
    if providers == "auto":
        return [CUDA, CPU] if CUDA in available else [CPU]
    providers = [providers] if isinstance(providers, str) else list(providers)
    missing = [p for p in providers if p not in available]
    if missing:
        raise ExportError(f"execution provider {missing[0]} is not available here "
                          f"(available: {', '.join(available)})")
    return providers


def open_session(path: Path, providers: list[str], threads: int | None = None) -> ort.InferenceSession:
    """An inference session, or :class:`ExportError` for a missing or unreadable file."""
    if not path.is_file():
        raise ExportError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except _LOAD_ERRORS as e:
        reason = str(e).split(" : ")[-1].split("\n")[0]
        raise ExportError(f"{path}: not a valid ONNX model ({reason})") from None


def session_device(session: ort.InferenceSession) -> torch.device:
    """Where the session wants its inputs and outputs: the CUDA device when it runs on CUDA."""
    if session.get_providers()[0] == CUDA:
        device_id = int(session.get_provider_options()[CUDA].get("device_id", 0))
        return torch.device("cuda", device_id)
    return torch.device("cpu")


def run_bound(session: ort.InferenceSession, images: torch.Tensor, num_classes: int,
              input_name: str, output_name: str) -> torch.Tensor:
    """Logits (B, num_classes) float32 for uint8 ``images`` (B, C, H, W), on ``session``'s device.

    ``images`` must already be on that device; they are made contiguous, and onnxruntime reads
    their buffer and writes into a preallocated torch tensor (no copies through NumPy)."""
    device = session_device(session)
    images = images.to(device).contiguous()
    logits = torch.empty((images.shape[0], num_classes), dtype=torch.float32, device=device)
    kind, index = device.type, device.index or 0
    binding = session.io_binding()
    binding.bind_input(input_name, kind, index, onnx.TensorProto.UINT8, list(images.shape),
                       images.data_ptr())
    binding.bind_output(output_name, kind, index, onnx.TensorProto.FLOAT, list(logits.shape),
                        logits.data_ptr())
    if kind == "cuda":
        torch.cuda.current_stream(device).synchronize()  # inputs written by torch are ready
    session.run_with_iobinding(binding)
    return logits
