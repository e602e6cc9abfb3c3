"""One-shot training throughput on 1 and 2 torchrun processes (issue 16), side by side in one run.

Trains the quick profile's one-shot model (bender2018, F = 8, 1 cell per stack, global batch 64 in
ghost batches of 32, path dropout to r = 0.1) on synthetic 28x28 images for a fixed number of steps
under `torchrun --standalone` and reports images/s of the global batch after a warm-up:

- CPU: 1 process with 1 and with 2 threads, against 2 Gloo processes with 1 thread each (on a
  2-core machine the honest expectation is little gain: the same cores do the same work, plus an
  all-reduce per step);
- CUDA (when torch sees GPUs): 1 process against one per GPU, NCCL.

    python benchmarks/ddp_step.py [--steps 40] [--warmup 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from nas_core.data import load_data
from nas_core.train import Callback, SupernetConfig, train_supernet

WIDTH, CELLS, BATCH, GHOST = 8, 1, 64, 32


def worker(args: argparse.Namespace) -> None:
    """One torchrun process: train, and (rank 0) write images/s after the warm-up to ``args.result``."""

    class Rates(Callback):
        def __init__(self) -> None:
            self.rates: list[float] = []

        def on_progress(self, p) -> None:
            if p.step > args.warmup:
                self.rates.append(p.images_per_s)

    data = load_data("synthetic", "train", image_size=28, subset=4096)
    config = SupernetConfig(space="bender2018", width=WIDTH, cells_per_stack=CELLS, batch_size=BATCH,
                            ghost_batch=GHOST, steps=args.steps, log_every=1, checkpoint_every=10**6,
                            device=args.device)
    rates = Rates()
    with tempfile.TemporaryDirectory() as out:
        train_supernet(config, data, out, callbacks=[rates])
    if rates.rates:  # rank 0
        Path(args.result).write_text(json.dumps(sum(rates.rates) / len(rates.rates)))


def launch(processes: int, threads: int, device: str, args: argparse.Namespace) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "rate.json"
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                        f"--nproc-per-node={processes}", __file__, "--worker", "--result", str(result),
                        "--device", device, "--steps", str(args.steps), "--warmup", str(args.warmup)],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        return json.loads(result.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    rows = [("cpu", 1, 1), ("cpu", 1, 2), ("cpu", 2, 1)]
    if torch.cuda.is_available():
        rows += [("cuda", 1, 1), ("cuda", torch.cuda.device_count(), 1)]
    print(f"one-shot model F={WIDTH}, {CELLS} cell/stack, global batch {BATCH} (ghost {GHOST}), "
          f"{args.steps} steps, images/s after {args.warmup} warm-up steps, {os.cpu_count()} CPUs")
    print("| device | processes | threads each | images/s | vs 1 process |")
    print("| --- | ---: | ---: | ---: | ---: |")
    base: dict[str, float] = {}
    for device, processes, threads in rows:
        rate = launch(processes, threads, device, args)
        base.setdefault(device, rate)
        print(f"| {device} | {processes} | {threads} | {rate:.0f} | {rate / base[device]:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
