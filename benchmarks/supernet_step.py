"""Training-step time of sparse vs dense-masked one-shot execution (issue: core model).

Setting (fixed by the issue): end of the dropout ramp with final rate r = 0.1, batch 128 in ghost
batches of 32, 32x32 inputs, F = 16, 2 cells per stack, CPU. Three modes see the same masks and
the same data, and take turns within each step so machine noise hits them alike: sparse per
ghost batch (the CPU default), sparse batched (the GPU default) and dense-masked (the
reference). Prints the ratios from one run.

    python benchmarks/supernet_step.py [--steps 10] [--threads 2]
    python benchmarks/supernet_step.py --device cuda --width 32 --batch 1024   # on a GPU
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from nas_core import NetworkConfig, OneShotModel, get_space, reuse_freed_memory
from nas_core.oneshot import forward_dense

MODES = ("per-ghost", "batched", "dense")  # the two sparse executions, and the reference


def forward(model: OneShotModel, x: torch.Tensor, masks, mode: str) -> torch.Tensor:
    if mode == "dense":
        return forward_dense(model, x, masks)
    return model.set_execution(mode)(x, masks=masks)


def step(model, x, y, masks, mode: str) -> float:
    if x.is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    model.zero_grad(set_to_none=True)
    with torch.autocast(x.device.type, torch.bfloat16, enabled=x.is_cuda):
        loss = torch.nn.functional.cross_entropy(forward(model, x, masks, mode), y)
    loss.backward()
    if x.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per mode")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--ghost", type=int, default=32, help="examples per ghost batch")
    parser.add_argument("--rate", type=float, default=0.1, help="final path-dropout rate r")
    parser.add_argument("--width", type=int, default=16, help="F, channels of the first stack")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (bf16 autocast there)")
    parser.add_argument("--no-channels-last", action="store_true", help="NCHW instead of the trainer's default")
    args = parser.parse_args()
    malloc = "reuse" if reuse_freed_memory() else "default"  # as `nas` does; NAS_DEFAULT_MALLOC=1: off
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = OneShotModel(get_space("bender2018"), NetworkConfig(width=args.width, cells_per_stack=2))
    model = model.to(args.device)
    x = torch.randn(args.batch, 3, 32, 32, device=args.device)
    y = torch.randint(0, 10, (args.batch,), device=args.device)
    if not args.no_channels_last:  # what the trainer does
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(0)
    times = {name: [] for name in MODES}
    for i in range(args.steps + 2):  # two warm-up steps per mode
        masks = model.path_dropout(args.batch // args.ghost, args.rate, 1.0, gen)
        for name in MODES:
            t = step(model, x, y, masks, name)
            if i >= 2:
                times[name].append(t)
    ms = {name: statistics.median(t) * 1000 for name, t in times.items()}
    default = "per-ghost" if args.device == "cpu" else "batched"
    print(f"device={args.device} threads={args.threads} batch={args.batch} ghost={args.ghost} r={args.rate} "
          f"F={args.width} steps={args.steps} channels_last={not args.no_channels_last} malloc={malloc}")
    print("   ".join(f"{name}: {v:.0f} ms/step" for name, v in ms.items()))
    print(f"speed-up vs dense: per-ghost {ms['dense'] / ms['per-ghost']:.2f}x, batched "
          f"{ms['dense'] / ms['batched']:.2f}x; the {args.device} default ({default}): "
          f"{ms['dense'] / ms[default]:.2f}x (target >= 3x on CPU)")


if __name__ == "__main__":
    main()
