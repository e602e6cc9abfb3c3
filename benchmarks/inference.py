"""Inference speed of an exported network: onnxruntime (fp32 and int8) vs PyTorch eager.

Setting (fixed by the export issue): a bender2018 architecture, F = 16, 2 cells per stack,
32x32x3 uint8 input, CPU. Latency at batch 1 and throughput at batch 64, same machine, same
thread count, one run; the three engines take turns in every round so machine noise hits them
alike. All three see uint8 images and normalise inside (PyTorch runs the same wrapper module
that is exported). Weights are random, with batch-norm statistics settled on random images; int8
is calibrated on random images (speed does not depend on the values). Prints ratios.

    python benchmarks/inference.py [--rounds 10] [--threads 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import onnxruntime as ort
import torch

from nas_core import NetworkConfig, build_network, get_space
from nas_export import ModelInfo, OnnxClassifier, Uint8Classifier, export_network

SHAPE = (3, 32, 32)


def build(seed: int) -> tuple[torch.nn.Module, ModelInfo]:
    arch = get_space("bender2018").sample(torch.Generator().manual_seed(seed))
    config = NetworkConfig(width=16, cells_per_stack=2, in_channels=3, num_classes=10)
    torch.manual_seed(seed)
    net = build_network(arch, config)
    with torch.no_grad():
        for _ in range(3):
            net.train()(torch.randn(32, *SHAPE))
    info = ModelInfo(arch, config, tuple(f"c{i}" for i in range(10)), 32, (0.5,) * 3, (0.25,) * 3, "random")
    return net.eval(), info


def uint8_images(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 256, (n, *SHAPE), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def timed(fn, x: torch.Tensor, calls: int) -> float:
    """Seconds per call, averaged over ``calls`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(calls):
        fn(x)
    return (time.perf_counter() - start) / calls


def measure(engines: dict, rounds: int) -> dict[str, dict[str, float]]:
    """Median batch-1 latency (ms) and batch-64 throughput (images/s) of each engine."""
    x1, x64 = uint8_images(1), uint8_images(64)
    for fn in engines.values():  # warm-up
        timed(fn, x1, 5)
        timed(fn, x64, 1)
    times = {name: {"b1": [], "b64": []} for name in engines}
    for _ in range(rounds):
        for name, fn in engines.items():
            times[name]["b1"].append(timed(fn, x1, 10))
            times[name]["b64"].append(timed(fn, x64, 1))
    return {name: {"ms_b1": statistics.median(t["b1"]) * 1000, "img_s_b64": 64 / statistics.median(t["b64"])}
            for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds per engine")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seed", type=int, default=0, help="architecture and weights")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net, info = build(args.seed)
    eager = Uint8Classifier(net, info.mean, info.std).eval()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.onnx"
        report = export_network(net, info, out, images=uint8_images(64), quantize="int8",
                                calibration_images=uint8_images(256, seed=2))
        fp32 = OnnxClassifier(Path(tmp) / "model.fp32.onnx", threads=args.threads)
        int8 = OnnxClassifier(out, threads=args.threads)
        with torch.inference_mode():
            found = measure({"pytorch eager": eager, "onnxruntime fp32": fp32.predict,
                             "onnxruntime int8": int8.predict}, args.rounds)
    print(f"arch {info.arch_id} ({info.arch.space}), F=16, 2 cells/stack, uint8 3x32x32, "
          f"threads={args.threads}, rounds={args.rounds}")
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}; files: fp32 "
          f"{report['fp32']['bytes'] / 1024:,.0f} KiB, int8 {report['int8']['bytes'] / 1024:,.0f} KiB")
    base = found["pytorch eager"]
    for name, f in found.items():
        print(f"{name:18s} batch 1: {f['ms_b1']:7.2f} ms ({base['ms_b1'] / f['ms_b1']:5.2f}x eager)   "
              f"batch 64: {f['img_s_b64']:8,.0f} img/s ({f['img_s_b64'] / base['img_s_b64']:5.2f}x eager)")
    print(f"onnxruntime fp32 vs eager at batch 1: {base['ms_b1'] / found['onnxruntime fp32']['ms_b1']:.2f}x "
          "(target >= 2x)")


if __name__ == "__main__":
    main()
