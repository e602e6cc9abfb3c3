"""The stand-alone ground truth of the ranking study (issue 15, docs/results.md): the first
``--archs`` architectures of the uniform pool that ``nas correlate --seed S`` draws, each trained from
scratch with ``--seeds`` seeds, **seed-major** (every architecture once before any twice), into the
folder layout `nas correlate --standalone-dir` reuses: a finished training is never run again and an
interrupted one resumes from its last checkpoint, so this script can be stopped and restarted.

    python benchmarks/ranking_truth.py --profile cpu --data-dir ../shared/data/cifar-10-batches-bin \
        --out runs/ranking/cifar/standalone --archs 32 --seeds 2

It prints one line per training (architecture, seed, val accuracy, seconds). Why seed-major: a
study interrupted after the first round still has one seed of every architecture. Each training
holds its folder's lock, as in `nas correlate`, so several copies of the command (and `nas
correlate` studies on the same folder) share the list: a training another process holds is
skipped. On a 2-core machine run two copies with ``--threads 1``, one per core. ``--arch-major``
trains every seed of an architecture before the next one: pairs first, for an early read of the
seed noise of a new schedule (``ranking_curve.py peek``).
``--extra ROOT/picks.json`` adds the studies' picks from the pool (``ranking_curve.py picks``). With
``--summary FILE`` it trains nothing and writes one JSON line per finished training (the record
kept in docs/results/). ``--restore FILE`` is the way back: it writes each line of such a record
into OUT as a finished training (a ``result.json`` marked ``restored_from``, no weights), so a fresh
machine reads the published ground truth instead of training it again for hours, then trains
whatever the record lacks. The record does not name its schedule: give the options it was made
with (``--epochs 6`` for docs/results/ranking-fmnist-standalone-e6.jsonl), or the folder's
settings will not say what its results are.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from nas_cli.correlate import CorrelateConfig, CorrelateUI
from nas_cli.correlate._study import _check_standalone_dir, _finished, _pool, _train_one
from nas_cli.pipeline import run_config
from nas_core import Architecture, apply_threads, get_space
from nas_core.train import read_result
from nas_core.train.checkpoint import atomic_write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--dataset")
    parser.add_argument("--data-dir")
    parser.add_argument("--out", type=Path, required=True, help="the stand-alone folder (--standalone-dir)")
    parser.add_argument("--archs", type=int, default=32)
    parser.add_argument("--pool", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=float, help="train this many epochs instead of the profile's (as `nas "
                        "correlate --epochs`; use another --out)")
    parser.add_argument("--summary", type=Path, help="write the finished trainings to this JSON lines file")
    parser.add_argument("--restore", type=Path, help="first write the trainings recorded in this JSON lines file "
                        "(a --summary, made with the same --profile, --dataset and --epochs) into --out as finished; "
                        "then train what it lacks")
    parser.add_argument("--extra", type=Path, help="also train the picks in this file (ranking_curve.py picks)")
    parser.add_argument("--threads", default="auto", help="torch threads: auto (as `nas`) or a number")
    parser.add_argument("--arch-major", action="store_true", help="every seed of an architecture before the next "
                        "architecture: pairs first, for an early read of the seed noise (default: seed-major)")
    args = parser.parse_args()
    if args.summary:
        return _summary(args.out, args.summary)
    apply_threads(args.threads)  # auto, as `nas`: the cores other processes leave free
    settings = run_config(args.profile, dataset=args.dataset, data_dir=args.data_dir, seed=args.seed,
                          device=args.device)
    config = CorrelateConfig(archs=args.archs, pool=args.pool, seed=args.seed, device=args.device)
    archs = _pool(get_space(settings.supernet.space), config)[: args.archs]
    if args.extra:  # the studies' picks from the pool, after the sample
        picked = [Architecture.from_json(p["arch"]) for p in json.loads(args.extra.read_text()).values()]
        archs += [a for a in dict((a.id, a) for a in picked).values() if a.id not in {b.id for b in archs}]
    data, standalone = settings.data, settings.standalone
    if args.epochs:
        standalone = replace(standalone, epochs=args.epochs, steps=None)
    _check_standalone_dir(args.out, standalone, data)
    if args.restore:
        _restore(args.restore, args.out)
    train, val = data.load("train"), data.load("val")
    print(f"{len(archs)} architectures x {args.seeds} seeds; train {len(train):,}, val {len(val):,}", flush=True)
    jobs = [(seed, n, arch) for seed in range(standalone.seed, standalone.seed + args.seeds)
            for n, arch in enumerate(archs)]
    if args.arch_major:
        jobs.sort(key=lambda job: job[1])  # stable: the seeds of one architecture stay in order
    for seed, n, arch in jobs:  # (as `nas correlate`: each training holds its folder's lock)
        if _finished(args.out / f"{arch.id}-s{seed}", _Quiet()) is not None:
            continue
        start = time.perf_counter()
        result = _train_one(arch, replace(standalone, seed=seed), train, val, args.out, _Quiet(), n, len(jobs))
        if result is None:
            print(f"{n + 1:3d}/{len(archs)} {arch.id} seed {seed}: another process trains it", flush=True)
            continue
        print(f"{n + 1:3d}/{len(archs)} {arch.id} seed {seed}: val {result['val']['accuracy']:.4f} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)


def _summary(folder: Path, path: Path) -> None:
    rows = []
    for found in sorted(folder.glob("*-s*/result.json")):
        result = read_result(found.parent)
        seed = int(found.parent.name.rsplit("-s", 1)[1])
        rows.append({"run": found.parent.name, "arch_id": result["arch_id"], "seed": seed,
                     "val_accuracy": result["val"]["accuracy"], "params": result["params"],
                     "train_seconds": round(result["train_seconds"], 1)})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(f"{len(rows)} trainings -> {path}")


def _restore(record: Path, folder: Path) -> None:
    """Write each training of ``record`` (a ``--summary`` file) as a finished one in ``folder``:
    what `nas correlate` reads of a result (architecture id, parameters, val accuracy), marked
    with where it came from. A folder that already holds a result keeps it."""
    restored = 0
    for line in record.read_text().splitlines():
        row = json.loads(line)
        run_dir = folder / row["run"]
        if (run_dir / "result.json").exists():
            continue
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(run_dir / "result.json", {
            "arch_id": row["arch_id"], "params": row["params"], "val": {"accuracy": row["val_accuracy"]},
            "train_seconds": row["train_seconds"], "restored_from": record.name})
        restored += 1
    print(f"{restored} trainings restored from {record} into {folder}", flush=True)


class _Quiet(CorrelateUI):
    def note(self, message: str) -> None:
        print(message, flush=True)


if __name__ == "__main__":
    main()
