"""Wall time and peak memory of `nas run --profile quick` end to end (issue 4 target: <= 4 minutes
and <= 3 GB on a 2-core CPU). Runs the real command in a child process on Fashion-MNIST.

    python benchmarks/nas_run_quick.py [--out /tmp/nas-quick] [-- extra nas run options]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/nas-quick-benchmark"))
    parser.add_argument("extra", nargs="*", help="more `nas run` options")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    nas = Path(sys.executable).with_name("nas")
    start = time.perf_counter()
    subprocess.run([str(nas), "run", "--profile", "quick", "--out", str(args.out), *args.extra], check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # kB -> GB
    summary = json.loads((args.out / "summary.json").read_text())
    phases = ", ".join(f"{k} {v:.0f} s" for k, v in summary["seconds"].items() if v)
    print(f"nas run --profile quick: {wall:.0f} s wall (target <= 240), peak RSS {peak_gb:.2f} GB "
          f"(target <= 3); phases: {phases}")
    best = summary["best"]
    print(f"best {best['arch_id']}: one-shot {best['one_shot_accuracy']:.3f}, val {best['val_accuracy']:.3f}, "
          f"test {best['test_accuracy']}")


if __name__ == "__main__":
    main()
