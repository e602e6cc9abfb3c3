"""Training throughput by thread policy, idle and beside one busy neighbour (issue 14, section 6).

On a shared machine a CPU-bound process in another session takes a core; OpenMP threads that wait
for each other at every parallel region then stall (the kernel's autogroup gives each session its
share, so ``nice`` does not help). This script measures, side by side in one run, the quick
profile's training steps (stand-alone network, and one-shot model) for each thread policy:

- ``1``: one torch thread;
- ``2``: two threads, libgomp's default waiting (spin, then sleep);
- ``2-passive``: two threads, ``OMP_WAIT_POLICY=PASSIVE`` (waiting threads sleep at once);
- ``auto``: what ``nas --threads auto`` does (nas_core.train.threads).

each once with the machine idle and once beside a neighbour: ``python -c "while True: pass"`` in a
new session (``setsid``), as a process started from another terminal would be. A policy passes
if the neighbour case stays within 2x of the best idle figure and the idle case loses at most 15%
against it. Every measurement is a fresh process (OpenMP reads its environment at start).

    python benchmarks/threads.py [--seconds 20] [--policies 1,2,2-passive,auto] [--run]

``--run`` adds ``nas run --profile quick`` wall times (minutes each; a run beside the neighbour
stops at ``--busy-limit`` seconds and is reported as more than that).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
POLICIES = {  # name: (environment, nas --threads)
    "1": ({"OMP_NUM_THREADS": "1"}, "1"),
    "2": ({"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": ""}, "2"),
    "2-passive": ({"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"}, "2"),
    "auto": ({}, "auto"),
}


class Enough(Exception):
    """Stops a training run once the measuring time is over."""


def worker(kind: str, seconds: float, threads: str) -> float:
    """Images/s of ``kind`` ("standalone" or "oneshot") steps after a warm-up, for ``seconds``."""
    import torch

    from nas_core import get_space
    from nas_core.data import load_data
    from nas_core.threads import apply_threads
    from nas_core.train import Callback, StandaloneConfig, SupernetConfig, train_standalone, train_supernet

    apply_threads(threads)
    data = load_data("fashion-mnist", "train", subset=4096)

    class Clock(Callback):
        def __init__(self) -> None:
            self.start: tuple[float, int] | None = None
            self.rate = 0.0

        def on_progress(self, p) -> None:
            now = time.perf_counter()
            if p.step == 3:  # warm-up over
                self.start = (now, p.step)
            elif self.start and now - self.start[0] >= seconds:
                self.rate = (p.step - self.start[1]) * 64 / (now - self.start[0])
                raise Enough

    clock = Clock()
    with tempfile.TemporaryDirectory() as out:
        try:
            if kind == "oneshot":
                config = SupernetConfig(space="bender2018", width=8, cells_per_stack=1, batch_size=64,
                                        ghost_batch=32, steps=10**6, log_every=1, checkpoint_every=10**9)
                train_supernet(config, data, out, callbacks=[clock])
            else:
                arch = get_space("bender2018").sample(torch.Generator().manual_seed(0))
                config = StandaloneConfig(width=8, cells_per_stack=1, batch_size=64, steps=10**6, log_every=1,
                                          checkpoint_every=10**9)
                train_standalone(arch, config, data, data, out, callbacks=[clock])
        except Enough:
            pass
    return clock.rate


def measure(policy: str, kind: str, seconds: float) -> float:
    env_extra, threads = POLICIES[policy]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    env.update({k: v for k, v in env_extra.items() if v})
    out = subprocess.run([sys.executable, __file__, "--worker", kind, "--seconds", str(seconds),
                          "--threads", threads], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def nas_run(policy: str, limit: float) -> float:
    env_extra, threads = POLICIES[policy]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    env.update({k: v for k, v in env_extra.items() if v})
    out = Path(tempfile.mkdtemp(prefix="nas-threads-"))
    start = time.perf_counter()
    try:
        subprocess.run([str(BIN / "nas"), "--threads", threads, "run", "--profile", "quick", "--out",
                        str(out / "run")], env=env, check=True, stdout=subprocess.DEVNULL, timeout=limit)
        return time.perf_counter() - start
    except subprocess.TimeoutExpired:
        print(f"  ({policy}: stopped at {limit:.0f} s; {_reached(out / 'run')})", flush=True)
        return float("inf")
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _reached(run: Path) -> str:
    """How far a stopped `nas run` got: its phase and, in training, the step."""
    for phase in ("standalone", "search", "supernet"):
        if (run / phase).exists():
            lines = sorted(run.glob(f"{phase}/**/metrics.jsonl"))
            if lines and (text := lines[-1].read_text().splitlines()):
                last = json.loads(text[-1])
                return f"in the {phase} phase, step {last['step']} of {last['total_steps']}"
            return f"in the {phase} phase"
    return "before the one-shot model's first step"


class Neighbour:
    """One busy process in a session of its own, like a job started from another terminal."""

    def __init__(self, busy: bool) -> None:
        self.busy = busy

    def __enter__(self) -> Neighbour:
        if self.busy:
            self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            time.sleep(1)
        return self

    def __exit__(self, *exc) -> None:
        if self.busy:
            self.proc.kill()
            self.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--kinds", default="standalone,oneshot")
    parser.add_argument("--run", action="store_true", help="also time `nas run --profile quick`")
    parser.add_argument("--run-policies", default="2,auto")
    parser.add_argument("--run-limit", type=float, default=900, help="seconds, idle runs")
    parser.add_argument("--busy-limit", type=float, default=300, help="seconds, runs beside the neighbour")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--threads", default="auto", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.seconds, args.threads)))
        return
    policies = args.policies.split(",")
    print(f"{os.cpu_count()} CPUs; images/s of training steps over {args.seconds:.0f} s after 3 warm-up steps; "
          "neighbour: one busy process in its own session")
    print("| steps | policy | idle img/s | neighbour img/s | neighbour slowdown | idle vs best idle |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for kind in filter(None, args.kinds.split(",")):
        rates = {}
        for policy in policies:
            with Neighbour(False):
                idle = measure(policy, kind, args.seconds)
            with Neighbour(True):
                busy = measure(policy, kind, args.seconds)
            rates[policy] = (idle, busy)
        best = max(idle for idle, _ in rates.values())
        for policy, (idle, busy) in rates.items():
            print(f"| {kind} | {policy} | {idle:.0f} | {busy:.0f} | {best / busy:.2f}x | {idle / best:.2f} |",
                  flush=True)
    if args.run:
        print("\n| `nas run --profile quick` | idle s | neighbour s |\n| --- | ---: | ---: |")
        for policy in args.run_policies.split(","):
            with Neighbour(False):
                idle = nas_run(policy, args.run_limit)
            with Neighbour(True):
                busy = nas_run(policy, args.busy_limit)
            busy_text = f"> {args.busy_limit:.0f} (stopped)" if busy == float("inf") else f"{busy:.0f}"
            print(f"| {policy} | {idle:.0f} | {busy_text} |", flush=True)


if __name__ == "__main__":
    main()
