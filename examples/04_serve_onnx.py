"""Train a tiny network on synthetic data, export it to ONNX and serve it with onnxruntime.

The whole deployment path through the library API, at toy size (well under 30 s on a CPU):
``train_standalone`` -> ``export_onnx`` (parity-checked against PyTorch) -> ``OnnxClassifier``,
which takes uint8 images exactly as data sets and Pillow give them.

    python examples/04_serve_onnx.py [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from nas_core import get_space
from nas_core.data import load_data
from nas_core.train import StandaloneConfig, train_standalone
from nas_export import OnnxClassifier, export_onnx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="where to write the model (default: a temp dir)")
    parser.add_argument("--smoke", action="store_true", help="accepted for symmetry: this example is tiny")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="serve_onnx."))
    torch.set_num_threads(1)  # a network this small gains nothing from more threads

    # 1. Train a random architecture of the tiny space for 40 steps (uint8 images, 16x16 RGB).
    train, val, test = (load_data("synthetic", split, image_size=16, subset=n)
                        for split, n in (("train", 640), ("val", 200), ("test", 500)))
    arch = get_space("tiny").sample(torch.Generator().manual_seed(0))
    config = StandaloneConfig(width=8, cells_per_stack=1, steps=40, batch_size=32, lr=0.4, device="cpu")
    result = train_standalone(arch, config, train, val, out / "model", test=test)
    print(f"trained {arch.id}: test accuracy (PyTorch) {result['test']['accuracy']:.3f}")

    # 2. Export: one .onnx file, checked against PyTorch on the validation images.
    report = export_onnx(out / "model", out / "model.onnx", images=val)
    parity = report["parity"]
    print(f"exported {out / 'model.onnx'}: top-1 agreement {parity['top1_agreement']:.2%}, "
          f"max abs logit diff {parity['max_abs_diff']:.1e}")

    # 3. Serve: uint8 (B, C, H, W) in, logits out; normalisation happens inside the model.
    classifier = OnnxClassifier(out / "model.onnx")
    for label, ranked in zip(test.labels[:3].tolist(), classifier.top_k(test.images[:3], k=2)):
        shown = ", ".join(f"{name} {p:.2f}" for name, p in ranked)
        print(f"true {classifier.classes[label]}: {shown}")
    found = classifier.evaluate(test.images, test.labels)
    print(f"onnxruntime test accuracy {found['accuracy']:.3f} at {found['images_per_s']:,.0f} images/s")


if __name__ == "__main__":
    main()
