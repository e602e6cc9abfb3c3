"""Classify image files with an exported model on onnxruntime alone: no torch, no oneshot-nas.

What a deployment team runs with the one ``.onnx`` file that ``nas export`` (or ``nas run``, as
``best/model.onnx``) writes. Everything the model needs to be fed and read is inside the file:
the class names, the input size and the channels are ``nas.*`` entries of its ``metadata_props``
(docs/export.md, "Metadata"); the graph takes uint8 NCHW pixels 0-255 and normalises them itself,
so no mean/std constants travel with it.

    pip install onnxruntime pillow        # NumPy comes with onnxruntime
    python examples/05_serve_without_torch.py model.onnx shoe.png shirt.jpg [--top-k 3]

NumPy: onnxruntime's Python API takes and returns NumPy arrays, and installs NumPy itself, so a
deployment has it anyway (the project's own code is NumPy-free; this file is exempt in
pyproject.toml). Images are decoded as ``nas_export.read_images`` and the ``folder`` data set do:
converted to L or RGB, resized on the shorter side (bilinear), centre-cropped to a square.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

FORMAT_VERSION = 1  # the nas.* metadata layout this script reads


def read_metadata(session: ort.InferenceSession) -> dict:
    """Class names, input size and channels from the file's ``nas.*`` metadata."""
    props = session.get_modelmeta().custom_metadata_map
    if "nas.format_version" not in props:
        sys.exit("error: not a model exported by nas export (no nas.* metadata)")
    if int(props["nas.format_version"]) > FORMAT_VERSION:
        sys.exit(f"error: metadata format {props['nas.format_version']} is newer than this script reads")
    return {"classes": json.loads(props["nas.classes"]), "size": int(props["nas.input_size"]),
            "channels": int(props["nas.channels"]), "arch_id": props["nas.arch_id"],
            "dataset": props["nas.dataset"]}


def read_image(path: str, channels: int, size: int) -> np.ndarray:
    """One image file as uint8 (channels, size, size), 0-255."""
    with Image.open(path) as img:
        img = ImageOps.fit(img.convert("L" if channels == 1 else "RGB"), (size, size),
                           Image.Resampling.BILINEAR)
        pixels = np.asarray(img, dtype=np.uint8).reshape(size, size, channels)  # (H, W, C)
    return pixels.transpose(2, 0, 1)  # (C, H, W)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (B, K) logits, computed in float64."""
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="an exported .onnx file")
    parser.add_argument("images", nargs="+", help="image files (any format Pillow reads)")
    parser.add_argument("--top-k", type=int, default=3, help="classes to show per image")
    args = parser.parse_args()

    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    meta = read_metadata(session)
    print(f"{args.model}: architecture {meta['arch_id']} ({meta['dataset']}), input uint8 "
          f"{meta['channels']}x{meta['size']}x{meta['size']}, {len(meta['classes'])} classes, "
          f"model_version {session.get_modelmeta().version}")

    batch = np.stack([read_image(p, meta["channels"], meta["size"]) for p in args.images])  # (B, C, H, W)
    (logits,) = session.run(["logits"], {"images": np.ascontiguousarray(batch)})  # (B, K) float32
    probs = softmax(logits)
    k = min(args.top_k, probs.shape[1])
    for path, row in zip(args.images, probs):
        print(path)
        for rank, i in enumerate(np.argsort(-row, kind="stable")[:k], 1):
            print(f"  {rank}. {meta['classes'][i]:<20} {row[i]:.4f}")


if __name__ == "__main__":
    main()
