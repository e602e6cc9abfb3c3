"""Fault injection (issue 14): kill -9 at random moments of a `nas` command, then the same command
again. Does it complete, with valid outputs, exact counts, no temporary files left, and the final
weights of an uninterrupted run, bit for bit?

Commands, at smoke size (synthetic data, the tiny space): `nas supernet train --resume`, `nas run
--profile smoke` and `nas correlate` (on the smoke run's one-shot model). A kill is SIGKILL to
the command's process group at a moment drawn (seeded) uniformly over the uninterrupted run's
wall time: some land before anything is written, some while a checkpoint, a trial or a result is.

    OMP_NUM_THREADS=1 python benchmarks/faults.py [--kills 20] [--seed 0] [--commands supernet,run,correlate]

Checks after the re-run (:func:`problems`): exit 0; every ``*.json`` parses; every checkpoint
``latest`` names verifies (sizes and SHA-256); ``metrics.jsonl`` logs the steps of the
uninterrupted run, once each; the Optuna studies hold exactly N complete trials, one per slot;
the score cache holds each architecture once; no file beyond the uninterrupted run's, and no
temporary name (``.*.tmp``, ``*.part``, SQLite journals). Bit-identical: the SHA-256 of every
``*.safetensors`` equals the uninterrupted run's. tests/cli/faults/ runs the same harness
with one kill per command.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import optuna

from nas_core.train.checkpoint import checkpoint_problem

BIN = Path(sys.executable).parent  # the environment's `nas`
ENV = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "COLUMNS": "200"}
DATA = ["--dataset", "synthetic", "--image-size", "12", "--device", "cpu"]
SUPERNET = ["supernet", "train", *DATA, "--subset", "512", "--space", "tiny", "--width", "4", "--cells-per-stack",
            "1", "--batch-size", "64", "--ghost-batch", "16", "--steps", "8", "--checkpoint-every", "2", "--resume"]
# A heartbeat every second: a killed trial is taken for dead (and redone) after 4 s, not 20.
RUN = ["run", "--profile", "smoke", "--device", "cpu", "--set", "search.heartbeat=1"]
CORRELATE = ["correlate", "--profile", "smoke", "--archs", "4", "--pool", "6", "--bootstrap", "20",
             "--kl-examples", "8", "--device", "cpu"]
TEMPORARY = re.compile(r"^\..+\.tmp$|\.tmp$|\.part$|-journal$|-wal$")  # atomic writes, downloads, SQLite


@dataclass(frozen=True)
class Command:
    name: str
    args: Callable[[Path], list[str]]  # the `nas` arguments for an output folder
    counts: Callable[[Path], dict[str, object]]  # what must be exact (trials, scores), as found
    deterministic: bool = True  # the final weights of a resumed run are the uninterrupted run's


@dataclass
class Reference:
    """An uninterrupted run: its folder, wall time and what the checks compare with."""

    folder: Path
    seconds: float
    files: set[str]
    digests: dict[str, str]
    counts: dict[str, object]


@dataclass
class Outcome:
    """Kills, then the same command until it ends on its own."""

    kills: int  # attempts ended by SIGKILL (a delay past the end of the run kills nothing)
    rc: int  # exit status of the last attempt
    seconds: float  # all attempts together
    problems: list[str] = field(default_factory=list)
    identical: bool = False  # every *.safetensors as the reference's

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.problems


def supernet_command() -> Command:
    return Command("nas supernet train", lambda out: [*SUPERNET, "--out", str(out)], lambda out: {})


def run_command() -> Command:
    return Command("nas run --profile smoke", lambda out: [*RUN, "--out", str(out)], study_counts)


def correlate_command(supernet: Path) -> Command:
    return Command("nas correlate", lambda out: [*CORRELATE, "--supernet", str(supernet), "--out", str(out)],
                   score_counts)


def attempt(args: list[str], log: Path, kill_after: float | None = None) -> tuple[int, float, bool]:
    """Run ``nas args`` (output appended to ``log``), SIGKILL its process group after ``kill_after``
    seconds unless it ended; (exit status, seconds, killed)."""
    start = time.perf_counter()
    with log.open("ab") as f:
        proc = subprocess.Popen([str(BIN / "nas"), *args], stdout=f, stderr=subprocess.STDOUT, env=ENV,
                                start_new_session=True)
    try:
        rc, killed = proc.wait(timeout=kill_after), False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        rc, killed = proc.wait(), True
    return rc, time.perf_counter() - start, killed


def reference(command: Command, folder: Path) -> Reference:
    """Run ``command`` into ``folder`` without a kill."""
    rc, seconds, _ = attempt(command.args(folder), folder.with_suffix(".log"))
    if rc != 0:
        raise RuntimeError(f"{command.name} failed ({rc}): {folder.with_suffix('.log').read_text()[-2000:]}")
    return Reference(folder, seconds, files(folder), digests(folder), command.counts(folder))


def with_kills(command: Command, ref: Reference, folder: Path, delays: list[float]) -> Outcome:
    """Run ``command`` into ``folder``, killed after each of ``delays`` seconds in turn, then once
    more to its end; check the folder against ``ref``."""
    log, kills, seconds = folder.with_suffix(".log"), 0, 0.0
    for delay in delays:
        rc, spent, killed = attempt(command.args(folder), log, kill_after=delay)
        kills, seconds = kills + killed, seconds + spent
    rc, spent, _ = attempt(command.args(folder), log)
    found = Outcome(kills, rc, seconds + spent)
    if rc != 0:
        found.problems.append(f"exit {rc}: {log.read_text()[-1500:]}")
        return found
    found.problems += problems(command, ref, folder)
    found.identical = digests(folder) == ref.digests
    return found


def problems(command: Command, ref: Reference, folder: Path) -> list[str]:
    """What is wrong with a finished ``folder``, compared with the uninterrupted run ``ref``."""
    found, names = [], files(folder)
    found += [f"left behind: {p}" for p in sorted(names - ref.files)]
    found += [f"missing: {p}" for p in sorted(ref.files - names)]
    found += [f"temporary: {p}" for p in sorted(names) if TEMPORARY.search(Path(p).name)]
    for path in sorted(folder.rglob("*.json")):
        try:
            json.loads(path.read_bytes())
        except ValueError as e:
            found.append(f"{path.relative_to(folder)} does not parse: {e}")
    found += checkpoint_problems(folder)
    for path in sorted(folder.rglob("metrics.jsonl")):
        steps, expected = logged_steps(path), logged_steps(ref.folder / path.relative_to(folder))
        if steps != expected:
            found.append(f"{path.relative_to(folder)} logs steps {steps}, not {expected}")
    counts = command.counts(folder)
    if counts != ref.counts:
        found.append(f"counts {counts}, not {ref.counts}")
    return found


def files(folder: Path) -> set[str]:
    """Every path under ``folder`` (files and folders), relative to it."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.safetensors"))}


def checkpoint_problems(folder: Path) -> list[str]:
    """Each ``checkpoints`` folder's ``latest`` must name a checkpoint that verifies."""
    found = []
    for root in sorted(folder.rglob("checkpoints")):
        latest = root / "latest"
        name = latest.read_text().strip() if latest.is_file() else ""
        problem = checkpoint_problem(root / name) if name else "no latest"
        if problem:
            found.append(f"{root.relative_to(folder)}/{name}: {problem}")
    return found


def logged_steps(path: Path) -> list[int] | None:
    if not path.is_file():
        return None
    return [json.loads(line)["step"] for line in path.read_text().splitlines() if line.strip()]


def study_counts(out: Path) -> dict[str, object]:
    """Per study of ``out/search/study.db``: complete trials, and distinct slots among them."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{out / 'search' / 'study.db'}"
    counts = {}
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        kind = "finalists" if "-finalists-" in summary.study_name else "search"
        counts[kind] = (len(done), len({t.user_attrs.get("slot", t.number) for t in done}))
    return counts


def score_counts(out: Path) -> dict[str, object]:
    """Lines of each score cache, and distinct architectures among them; trained networks."""
    counts: dict[str, object] = {}
    for path in sorted((out / "scores").glob("*.jsonl")):
        ids = [json.loads(line)["arch_id"] for line in path.read_text().splitlines() if line.strip()]
        counts[path.name] = (len(ids), len(set(ids)))
    counts["trained"] = len(list(out.glob("standalone/*/result.json")))
    return counts


def delays(rng: random.Random, seconds: float, n: int) -> list[float]:
    """``n`` kill moments drawn uniformly over ``[0, seconds)``."""
    return [round(rng.uniform(0.0, seconds), 2) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="kills per command, each in a fresh folder")
    parser.add_argument("--seed", type=int, default=0, help="seeds the kill moments")
    parser.add_argument("--commands", default="supernet,run,correlate")
    parser.add_argument("--keep", default=None, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="nas-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    rng, rows = random.Random(args.seed), []
    wanted = args.commands.split(",")
    commands = {"supernet": supernet_command(), "run": run_command()}
    refs: dict[str, Reference] = {}
    for key in ("supernet", "run", "correlate"):
        if key not in wanted and not (key == "run" and "correlate" in wanted):
            continue
        if key == "correlate":
            commands[key] = correlate_command(refs["run"].folder / "supernet")
        refs[key] = reference(commands[key], work / f"{key}-reference")
        if key not in wanted:
            continue
        outcomes = []
        for i, delay in enumerate(delays(rng, refs[key].seconds, args.kills)):
            outcome = with_kills(commands[key], refs[key], work / f"{key}-{i:02d}", [delay])
            outcomes.append(outcome)
            print(f"{key} #{i} kill at {delay:.2f} s: {'ok' if outcome.ok else outcome.problems}, "
                  f"identical {outcome.identical}, {outcome.seconds:.1f} s", flush=True)
        rows.append(row(commands[key], refs[key], outcomes))
        print(json.dumps(rows[-1]), flush=True)
    print_table(rows, args)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def row(command: Command, ref: Reference, outcomes: list[Outcome]) -> dict:
    extra = [o.seconds - ref.seconds for o in outcomes]
    return {"command": command.name, "uninterrupted_s": ref.seconds, "kills": sum(o.kills for o in outcomes),
            "runs": len(outcomes), "resumed": sum(o.rc == 0 for o in outcomes),
            "identical": sum(o.identical for o in outcomes), "exact": sum(o.ok for o in outcomes),
            "leftovers": sum(any(p.startswith(("left behind", "temporary")) for p in o.problems) for o in outcomes),
            "extra_median_s": statistics.median(extra), "extra_max_s": max(extra)}


def print_table(rows: list[dict], args) -> None:
    print(f"\nkill -9 at {args.kills} seeded moments per command (seed {args.seed}), then the same command:")
    print("| command | uninterrupted | kills landed / runs | resumed (exit 0) | bit-identical weights "
          "| outputs valid, exact counts | runs with leftovers | extra time median / max |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| `{r['command']}` | {r['uninterrupted_s']:.1f} s | {r['kills']} / {r['runs']} | {r['resumed']} "
              f"| {r['identical']} | {r['exact']} | {r['leftovers']} | {r['extra_median_s']:.1f} / "
              f"{r['extra_max_s']:.1f} s |")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
