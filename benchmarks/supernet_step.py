"""Training-step time of sparse vs dense-masked one-shot execution (issue: core model).

Setting (fixed by the issue): end of the dropout ramp with final rate r = 0.1, batch 128 in ghost
batches of 32, 32x32 inputs, F = 16, 2 cells per stack, CPU. Both modes see the same masks and
the same data; steps alternate so machine noise hits both alike. Prints one ratio from one run.

    python benchmarks/supernet_step.py [--steps 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from nas_core import NetworkConfig, OneShotModel, get_space


def step(model, x, y, masks, dense: bool) -> float:
    start = time.perf_counter()
    model.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(x, masks=masks, dense=dense), y)
    loss.backward()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per mode")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--ghost", type=int, default=32, help="examples per ghost batch")
    parser.add_argument("--rate", type=float, default=0.1, help="final path-dropout rate r")
    parser.add_argument("--no-channels-last", action="store_true", help="NCHW instead of the trainer's default")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = OneShotModel(get_space("bender2018"), NetworkConfig(width=16, cells_per_stack=2))
    x, y = torch.randn(args.batch, 3, 32, 32), torch.randint(0, 10, (args.batch,))
    if not args.no_channels_last:  # what the trainer does
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(0)
    times = {True: [], False: []}
    for i in range(args.steps + 2):  # two warm-up steps per mode
        masks = model.path_dropout(args.batch // args.ghost, args.rate, 1.0, gen)
        for dense in (False, True):
            t = step(model, x, y, masks, dense)
            if i >= 2:
                times[dense].append(t)
    sparse, dense = statistics.median(times[False]), statistics.median(times[True])
    print(f"threads={args.threads} batch={args.batch} ghost={args.ghost} r={args.rate} steps={args.steps} "
          f"channels_last={not args.no_channels_last}")
    print(f"sparse: {sparse * 1000:.0f} ms/step   dense-masked: {dense * 1000:.0f} ms/step")
    print(f"speed-up sparse vs dense: {dense / sparse:.2f}x (target >= 3x)")


if __name__ == "__main__":
    main()
