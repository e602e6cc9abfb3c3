"""One-shot scoring speed: sparse (only the architecture's paths) vs dense-masked (issue 4).

Architectures scored per minute on 5,000 validation images (32x32x3, F = 16, 2 cells per
stack, batch 500), CPU, both modes on the same architectures, alternating, in one run. Real
CIFAR-10 images from ../shared when present, else synthetic ones (timing does not depend on
the pixels or on the weights). Target: >= 3.5x (the compute-bound limit is about 4x: a random
architecture keeps 1.75 of the 7 ops per block on average).

    python benchmarks/scoring.py [--archs 4] [--images 5000]
    NAS_DEFAULT_MALLOC=1 python benchmarks/scoring.py   # glibc's default allocator (nas_core/memory.py)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from nas_core import NetworkConfig, OneShotModel, get_space, one_shot_accuracy, reuse_freed_memory
from nas_core.data import load_data

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cifar-10-batches-bin"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=4, help="architectures per mode (ratio varies with the ops)")
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    malloc = "reuse" if reuse_freed_memory() else "default"  # as `nas` does; NAS_DEFAULT_MALLOC=1: off
    if SHARED.exists():
        val = load_data("cifar10", "val", data_dir=SHARED, subset=args.images)
    else:
        val = load_data("synthetic", "val", subset=args.images)  # smaller than asked if few exist
    torch.manual_seed(0)
    model = OneShotModel(get_space("bender2018"), NetworkConfig(width=16, cells_per_stack=2)).eval()
    model = model.to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(0)
    archs = [model.space.sample(gen) for _ in range(args.archs)]
    one_shot_accuracy(model, archs[0], val, args.batch)  # warm-up
    seconds = {False: 0.0, True: 0.0}
    for arch in archs:
        taken = {}
        for dense in (False, True):
            start = time.perf_counter()
            one_shot_accuracy(model, arch, val, args.batch, dense=dense)
            taken[dense] = time.perf_counter() - start
            seconds[dense] += taken[dense]
        print(f"  {arch.id}: sparse {taken[False]:.1f} s, dense-masked {taken[True]:.1f} s, "
              f"{taken[True] / taken[False]:.2f}x")
    per_min = {d: 60 * len(archs) / s for d, s in seconds.items()}
    print(f"{val.name} val images: {len(val)}, batch {args.batch}, F=16, 2 cells/stack, {args.archs} archs, "
          f"threads {torch.get_num_threads()}, malloc {malloc}")
    print(f"sparse: {per_min[False]:.2f} archs/min   dense-masked: {per_min[True]:.2f} archs/min")
    print(f"speed-up: {per_min[False] / per_min[True]:.2f}x (target >= 3.5x)")


if __name__ == "__main__":
    main()
