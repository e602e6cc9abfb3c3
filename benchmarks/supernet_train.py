"""One-shot model training throughput on CPU for the `quick` setting, and peak memory (issue 3).

Trains the quick profile's one-shot model (bender2018, F = 8, 1 cell per stack, batch 64 in ghost
batches of 32, path dropout ramping to r = 0.1) on a Fashion-MNIST subset for a fixed number of
steps and reports images/s over the whole ramp (early steps run every path, late ones a few) and
the process's peak RSS.

    python benchmarks/supernet_train.py [--steps 60] [--dataset fashion-mnist] [--device cpu]
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import tempfile
import time

from nas_cli.pipeline import run_config
from nas_core import reuse_freed_memory
from nas_core.data import load_data
from nas_core.train import train_supernet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--profile", default="quick", help="nas run profile whose one-shot settings to use")
    args = parser.parse_args()
    malloc = "reuse" if reuse_freed_memory() else "default"  # as `nas` does; NAS_DEFAULT_MALLOC=1: off
    profile = run_config(args.profile, device=args.device)
    config = dataclasses.replace(profile.supernet, steps=args.steps, checkpoint_every=10**9)
    data = load_data(args.dataset, "train", data_dir=args.data_dir, subset=profile.data.subsets.get("train"))
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        train_supernet(config, data, out)
        seconds = time.perf_counter() - start
    images = args.steps * config.batch_size
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"{args.profile} one-shot model on {data!r}: {args.steps} steps of {config.batch_size} "
          f"(F={config.width}, {config.cells_per_stack} cell/stack, device {args.device}, malloc {malloc})")
    print(f"{images / seconds:.0f} images/s over the whole dropout ramp ({seconds:.1f} s), peak RSS {peak_gb:.2f} GB")


if __name__ == "__main__":
    main()
