"""Study storage speed: trial latency on SQLite vs PostgreSQL with K worker processes (issue 16).

Each of K spawned processes opens its own ``RDBStorage``, loads the study, runs --warmup trials,
waits for the others, then times --trials trials of an empty objective (no parameters unless
--params N; the bender2018 encoding has 16). A trial is what a worker asks of the storage:
heartbeat "off" is ask + tell on a plain storage (the loop in ``nas_cli.search``), heartbeat "5 s"
is ``study.optimize(n_trials=1)`` on ``RDBStorage(url, heartbeat_interval=5, grace_period=20)``
(Optuna then also fails stale trials and records a heartbeat, every trial). SQLite: a file in a
temp dir (``connect_args={"timeout": 60}``, as ``nas_cli`` opens it). PostgreSQL:
$NAS_TEST_POSTGRES_URL (a user with CREATEDB), else a throwaway cluster from .ci/postgres.sh
(`apt-get install postgresql`), whose CPU time per trial is measured too. A fresh database or file
for every row.

    python benchmarks/storage.py [--workers 1,4,8] [--trials 100] [--params 0] [--heartbeat both]
    NAS_TEST_POSTGRES_URL=postgresql://nas:nas@127.0.0.1:5432/nas python benchmarks/storage.py

The projection at the end, per server core: with S seconds of scoring per trial, storage costs
under 5% of it while a worker's storage latency is under 0.05 S. K workers load one core to
rho = K u / S, u the server CPU seconds per trial (else 1 / the best measured throughput), and the
latency grows about as c1 / (1 - rho) (one queue), c1 the mean latency of one worker; hence
K <= (S / u) (1 - 20 c1 / S). It ignores disk flushes (commits of concurrent workers share them).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import statistics
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import optuna

POSTGRES_SH = Path(__file__).resolve().parents[1] / ".ci" / "postgres.sh"
CHOICES = ("a", "b", "c", "d")


@dataclass(frozen=True)
class Row:
    storage: str
    heartbeat: bool
    workers: int
    latencies: list[float]  # seconds, one per timed trial, all workers
    seconds: float  # wall time of the timed phase, first start to last end
    server_cpu: float | None  # server CPU seconds per trial (warm-up included); None: not measured

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds


@dataclass(frozen=True)
class Server:
    kind: str  # "sqlite" | "postgres"
    url: str  # plain postgresql:// URL of the server; "" for SQLite
    pid: int | None  # the postmaster of a local cluster, for its CPU time


def open_storage(url: str, heartbeat: bool) -> optuna.storages.RDBStorage:
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    beat = {"heartbeat_interval": 5, "grace_period": 20} if heartbeat else {}  # seconds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs, **beat)


def one_trial(study: optuna.Study, params: int, heartbeat: bool) -> float:
    """Seconds for one trial of an empty objective, as a worker runs it."""
    def objective(trial: optuna.Trial) -> float:
        for i in range(params):
            trial.suggest_categorical(f"p{i}", CHOICES)
        return 0.0

    start = time.perf_counter()
    if heartbeat:
        study.optimize(objective, n_trials=1)
    else:
        trial = study.ask()
        study.tell(trial, objective(trial))
    return time.perf_counter() - start


def worker(url: str, args: argparse.Namespace, heartbeat: bool, seed: int, barrier, results) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(url, heartbeat)
    study = optuna.load_study(study_name="bench", storage=storage, sampler=optuna.samplers.RandomSampler(seed))
    for _ in range(args.warmup):
        one_trial(study, args.params, heartbeat)
    barrier.wait()
    start = time.time()  # wall clock: comparable between processes
    latencies = [one_trial(study, args.params, heartbeat) for _ in range(args.trials)]
    results.put((latencies, start, time.time()))


def cpu_seconds(pid: int) -> float:
    """CPU time of ``pid``, its reaped children and its live children (Linux /proc)."""
    def times(p: str, fields: slice) -> int:
        with open(f"/proc/{p}/stat") as f:
            return sum(int(x) for x in f.read().rsplit(")", 1)[1].split()[fields])

    ticks = times(str(pid), slice(11, 15))  # utime, stime, cutime, cstime
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{p}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:  # ppid
                    ticks += times(p, slice(11, 13))
        except (OSError, ValueError):  # gone meanwhile
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(server: Server, url: str, workers: int, heartbeat: bool, args: argparse.Namespace) -> Row:
    tables = open_storage(url, False)
    optuna.create_study(study_name="bench", storage=tables)  # the tables, before the workers race for them
    tables.engine.dispose()
    cpu = cpu_seconds(server.pid) if server.pid else 0.0
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(workers), ctx.Queue()
    procs = [ctx.Process(target=worker, args=(url, args, heartbeat, seed, barrier, results))
             for seed in range(workers)]
    for p in procs:
        p.start()
    got = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    time.sleep(0.5)  # the postmaster reaps the closed connections' processes
    server_cpu = (cpu_seconds(server.pid) - cpu) / (workers * (args.warmup + args.trials)) if server.pid else None
    latencies = [s for lat, _, _ in got for s in lat]
    seconds = max(end for _, _, end in got) - min(start for _, start, _ in got)
    return Row(server.kind, heartbeat, workers, latencies, seconds, server_cpu)


@contextmanager
def open_server(kind: str) -> Iterator[Server]:
    """SQLite needs none; PostgreSQL: $NAS_TEST_POSTGRES_URL, else a throwaway local cluster."""
    if kind == "sqlite" or (url := os.environ.get("NAS_TEST_POSTGRES_URL")):
        yield Server(kind, "" if kind == "sqlite" else url.replace("postgresql+psycopg://", "postgresql://", 1), None)
        return
    cluster = tempfile.mkdtemp(prefix="nas-postgres-")
    try:
        out = subprocess.run(["bash", str(POSTGRES_SH), "start", cluster], capture_output=True, text=True, check=True)
        pid = int(Path(cluster, "data", "postmaster.pid").read_text().split()[0])
        yield Server(kind, out.stdout.splitlines()[-1], pid)
    finally:
        subprocess.run(["bash", str(POSTGRES_SH), "stop", cluster], check=False)


@contextmanager
def fresh_database(server: Server, tmp: str) -> Iterator[str]:
    """A SQLAlchemy URL of a new empty database: a SQLite file in ``tmp``, or a database on the
    PostgreSQL server (through psycopg 3), dropped afterwards."""
    name = f"bench_{secrets.token_hex(4)}"
    if server.kind == "sqlite":
        yield f"sqlite:///{tmp}/{name}.db"
        return
    import psycopg  # the `postgres` extra

    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server.url.replace('postgresql://', 'postgresql+psycopg://', 1).rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def run_storage(kind: str, args: argparse.Namespace, modes: list[bool]) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, open_server(kind) as server:
        for heartbeat in modes:
            for k in args.workers:
                with fresh_database(server, tmp) as url:
                    rows.append(measure(server, url, k, heartbeat, args))
                print(f"  {kind}, heartbeat {'on' if heartbeat else 'off'}, {k} workers: done", flush=True)
    return rows


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{1000 * seconds:.1f}"


def print_table(rows: list[Row]) -> None:
    print("| storage | heartbeat | workers | trials | p50 ms | p99 ms | mean ms | trials/s | server CPU ms/trial |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        p99 = statistics.quantiles(r.latencies, n=100, method="inclusive")[98]
        print(f"| {r.storage} | {'5 s' if r.heartbeat else 'off'} | {r.workers} | {len(r.latencies)} | "
              f"{ms(statistics.median(r.latencies))} | {ms(p99)} | {ms(statistics.fmean(r.latencies))} | "
              f"{r.throughput:.1f} | {ms(r.server_cpu)} |")


def print_projection(rows: list[Row], score_seconds: list[float]) -> None:
    for storage, heartbeat in dict.fromkeys((r.storage, r.heartbeat) for r in rows):
        group = [r for r in rows if (r.storage, r.heartbeat) == (storage, heartbeat)]
        c1 = statistics.fmean(min(group, key=lambda r: r.workers).latencies)
        measured = [r.server_cpu for r in group if r.server_cpu]
        u = statistics.fmean(measured) if measured else 1 / max(r.throughput for r in group)
        limits = ", ".join(f"S = {s:g} s: K <= {max(0.0, s / u * (1 - 20 * c1 / s)):.0f}" for s in score_seconds)
        print(f"- {storage}, heartbeat {'5 s' if heartbeat else 'off'}: latency c1 = {ms(c1)} ms, "
              f"u = {ms(u)} ms ({'server CPU' if measured else '1 / best throughput'}); "
              f"workers per server core under 5%: {limits}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=lambda s: [int(k) for k in s.split(",")], default=[1, 4, 8])
    parser.add_argument("--trials", type=int, default=100, help="timed trials per worker")
    parser.add_argument("--warmup", type=int, default=10, help="untimed trials per worker first")
    parser.add_argument("--params", type=int, default=0, help="categorical parameters per trial")
    parser.add_argument("--heartbeat", choices=["off", "on", "both"], default="both")
    parser.add_argument("--storages", default="sqlite,postgres")
    parser.add_argument("--score-seconds", type=lambda s: [float(x) for x in s.split(",")], default=[1.0, 12.0],
                        help="scoring time per trial for the projection (CPU: ~12 s, benchmarks/scoring.py)")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.heartbeat]
    rows = [row for kind in args.storages.split(",") for row in run_storage(kind, args, modes)]
    print(f"\noptuna {optuna.__version__}, {os.cpu_count()} CPUs, {args.trials} timed trials per worker "
          f"after {args.warmup} warm-up, {args.params} parameters per trial\n")
    print_table(rows)
    print()
    print_projection(rows, args.score_seconds)


if __name__ == "__main__":
    main()
