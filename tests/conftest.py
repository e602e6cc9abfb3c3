"""Fixtures shared by all tests: a real PostgreSQL server (issue 16).

``postgres_url`` (session): a server as a plain ``postgresql://user:password@host:port/db`` URL
(Optuna's ``RDBStorage`` wants ``postgresql+psycopg://``). ``$NAS_TEST_POSTGRES_URL`` if set (the
user needs CREATEDB); else a throwaway cluster started with ``.ci/postgres.sh`` for the session;
else the test is skipped, or fails under ``CI=true``. ``postgres_db`` (per test): a fresh, empty
database on that server, dropped after the test.

    def test_study(postgres_db):
        storage = optuna.storages.RDBStorage(postgres_db.replace("postgresql://", "postgresql+psycopg://"))

Threads: the suite runs on parallel workers (pytest-xdist, the README's ``-n``), one torch thread
each (and in every subprocess a test starts) unless ``OMP_NUM_THREADS`` says otherwise: two
workers of two threads each on a two-core machine stall each other at every OpenMP barrier
(docs/benchmarks.md).
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

# Before any test module imports torch (this file imports none of it).
os.environ.setdefault("OMP_NUM_THREADS", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist gives its workers COLUMNS=80 and LINES=24; the CLI would then cut its output at
    # 80 columns as on a narrow terminal, which a serial run (no terminal: full width) does not.
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)
POSTGRES_SH = Path(__file__).resolve().parents[1] / ".ci" / "postgres.sh"


def no_server(reason: str) -> None:
    """Skip the test, or fail it under CI, where the server is required."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"no PostgreSQL server under CI=true: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL server: {reason}")


def have_binaries() -> bool:
    """What ``.ci/postgres.sh`` would find: $NAS_TEST_POSTGRES_BIN_DIR, Debian's, or PATH."""
    if os.environ.get("NAS_TEST_POSTGRES_BIN_DIR"):
        return os.access(Path(os.environ["NAS_TEST_POSTGRES_BIN_DIR"], "initdb"), os.X_OK)
    return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or shutil.which("initdb") is not None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    if url := os.environ.get("NAS_TEST_POSTGRES_URL"):
        yield url.replace("postgresql+psycopg://", "postgresql://", 1)
        return
    if not have_binaries():
        no_server("set NAS_TEST_POSTGRES_URL or install PostgreSQL (apt-get install postgresql)")
    cluster = tempfile.mkdtemp(prefix="nas-postgres-")  # in /tmp: the `postgres` user can reach it
    started = subprocess.run(["bash", str(POSTGRES_SH), "start", cluster], capture_output=True, text=True)
    try:
        if started.returncode != 0:
            no_server(f".ci/postgres.sh start failed: {started.stderr.strip()[-500:]}")
        yield started.stdout.splitlines()[-1]
    finally:
        subprocess.run(["bash", str(POSTGRES_SH), "stop", cluster], capture_output=True)


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture
def postgres_db(postgres_url: str) -> Iterator[str]:
    try:
        import psycopg
    except ImportError:
        no_server("psycopg is not installed (pip install -e 'packages/cli[postgres]')")
    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(postgres_url, name)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def alarm():
    """Fail (not hang) when something blocks for 60 s: a FIFO opened by mistake blocks forever."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def timeout(signum, frame):
        raise TimeoutError("blocked for 60 s: a FIFO was opened?")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
