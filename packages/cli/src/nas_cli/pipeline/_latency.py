"""The onnxruntime latency of a trained finalist: what ``--pick max-latency-ms:T`` compares.

The finalist is exported to a temporary ONNX file (``nas_export.export_onnx``: the same graph the
export phase deploys, uint8 images in, checked against PyTorch), opened on the CPU with ONE
intra-op thread, run ``WARMUP`` times untimed, then timed ``REPEATS`` times at batch 1; the
figure is the median. One thread makes the figures comparable between finalists and between runs
(no thread-pool start-up, no contention with other work on the machine, the same on a laptop and a
64-core server) and stands for a one-core deployment target; batch-1 latency of networks this
small gains little from more threads. The result is kept in the finalist's folder
(``latency.json``), so a resumed run does not export again.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch

from nas_core.network import median_ms
from nas_core.train import atomic_write_json

THREADS = 1  # onnxruntime intra-op threads (see above)
WARMUP = 10  # untimed runs first
REPEATS = 50  # timed runs; the median is reported
PARITY_IMAGES = 64  # images the temporary export is checked on
SETTINGS = {"runtime": "onnxruntime", "device": "cpu", "batch": 1, "threads": THREADS, "warmup": WARMUP,
            "repeats": REPEATS, "statistic": "median"}


def ort_latency_ms(model_dir: Path, images: torch.Tensor) -> float | None:
    """Median onnxruntime milliseconds of one batch-1 prediction of the network in ``model_dir``
    (``result.json``, ``model.safetensors``) on uint8 ``images`` (B, C, H, W); None where
    nas-export is not installed. Read from ``model_dir/latency.json`` when measured before."""
    cache = model_dir / "latency.json"
    cached = _cached(cache)
    if cached is not None:
        return cached
    try:
        import nas_export  # optional package
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        nas_export.export_onnx(model_dir, path, images=images[:PARITY_IMAGES])
        model = nas_export.OnnxClassifier(path, threads=THREADS)
        x = images[:1].contiguous()
        latency = median_ms(lambda: model.predict(x), REPEATS, WARMUP)
    atomic_write_json(cache, {"latency_ms": latency, **SETTINGS})
    return latency


def _cached(cache: Path) -> float | None:
    """The latency ``cache`` records; None if there is none or it cannot be read (measured again)."""
    try:
        latency = json.loads(cache.read_bytes())["latency_ms"]
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError):
        return None
    return float(latency) if type(latency) in (int, float) else None
