"""The Optuna study that holds a search: storage, creation, and an exact trial budget shared by
workers on any number of machines.

How K workers on M machines end with exactly N trials, with only the storage in common:

- **Slots.** The budget is N WAITING trials in the study, numbered by a ``slot`` user attribute
  (:func:`plan_trials`). A worker claims a slot with Optuna's own compare-and-set on a trial's state
  (WAITING -> RUNNING succeeds for one process only; :func:`claim_trial`), so no slot is run twice
  and no trial beyond the N is created. Whoever queues the missing slots (a new study, a raised
  budget) holds a lock that every machine sees (:func:`budget_lock`: a PostgreSQL advisory lock
  held in the database; for SQLite, which serves one machine, a file lock next to the file).
- **Heartbeats.** While a trial runs, its worker records a heartbeat in the storage every
  ``heartbeat`` seconds (:func:`heartbeat`). A trial whose heartbeat is older than the grace period
  belongs to a dead worker: Optuna's ``fail_stale_trials`` marks it FAIL and its
  ``RetryHeartbeatStaleTrialCallback`` queues a WAITING copy with the same architecture and slot,
  which the next free worker runs. Trials of live workers are never touched.

SQLite in the run folder (the default) serves the workers of one machine; PostgreSQL serves many.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import optuna
import sqlalchemy
from filelock import FileLock
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from nas_core.errors import InputError
from nas_core.train import require_same

HEARTBEAT_S = 5  # seconds between a running trial's heartbeats
GRACE_HEARTBEATS = 4  # a trial is stale after this many missed heartbeats
MAX_RETRIES = 3  # a trial whose worker dies this often is left failed (its slot then stays empty)
SCHEMA_ATTEMPTS = 5  # opening a new database while other workers create its tables
LIVE = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)


class StudyError(InputError):
    """The study cannot be opened or does not fit the request (one line, for the CLI)."""


def default_storage(run_dir: str | Path) -> str:
    """SQLite file in the run directory."""
    return f"sqlite:///{Path(run_dir).resolve() / 'study.db'}"


def open_storage(url: str, heartbeat: int = HEARTBEAT_S) -> optuna.storages.RDBStorage:
    """An Optuna RDB storage for ``url`` (sqlite:// or postgresql://, any SQLAlchemy URL) with
    heartbeats every ``heartbeat`` seconds and retries of the trials of dead workers."""
    if "://" not in url:
        raise StudyError(f"storage {url!r} is not a database URL",
                         hint="give {storage} as sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB")
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            with _quiet():
                return optuna.storages.RDBStorage(
                    _driver(url), engine_kwargs=kwargs, heartbeat_interval=heartbeat,
                    grace_period=GRACE_HEARTBEATS * heartbeat,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES))
        except ModuleNotFoundError as e:
            raise StudyError(f"storage {_safe(url)!r} needs the Python module {e.name!r}",
                             hint="pip install 'nas-cli[postgres]' for PostgreSQL") from None
        except Exception as e:  # sqlalchemy/driver errors vary: report them in one line
            if _schema_race(e) and attempt + 1 < SCHEMA_ATTEMPTS:
                time.sleep(0.2 * (attempt + 1))  # another worker is creating the tables: use them
                continue
            raise StudyError(f"cannot open study storage {_safe(url)!r}: {_first_line(e)}") from None
    raise AssertionError("unreachable")


def _schema_race(e: Exception) -> bool:
    """Whether ``e`` comes from two processes creating Optuna's tables in a new database at once."""
    text = str(e)
    return any(sign in text for sign in ("already exists", "UNIQUE constraint failed", "duplicate key value"))


def _driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 (the ``postgres`` extra), not SQLAlchemy's default psycopg2."""
    return "postgresql+psycopg://" + url.removeprefix("postgresql://") if url.startswith("postgresql://") else url


def _safe(url: str) -> str:
    """``url`` without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    user, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{user.split(':')[0]}:***@{host}" if at and ":" in user else url


def _first_line(e: Exception) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return lines[0] if lines else type(e).__name__


def open_study(storage: optuna.storages.BaseStorage, name: str, directions: list[str],
               sampler: optuna.samplers.BaseSampler | None = None) -> optuna.Study:
    """Create the study, or load it if it exists with the same objectives."""
    try:
        existing = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    except KeyError:
        try:
            return optuna.create_study(study_name=name, storage=storage, sampler=sampler, directions=directions)
        except optuna.exceptions.DuplicatedStudyError:  # another worker created it just now
            existing = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    except Exception as e:
        raise StudyError(f"cannot read study {name!r}: {_first_line(e)}") from None
    have = [d.name.lower() for d in existing.directions]
    require_same({"directions": have}, {"directions": directions}, where="the storage", what=f"study {name!r}",
                 hint="use another {study} name or the same {cost}", error=StudyError)
    return existing


def require_attrs(study: optuna.Study, attrs: dict) -> None:
    """Record ``attrs`` (what the trials' scores mean: space, one-shot model) on a new study, or
    refuse a study recorded with other values."""
    recorded = {k: study.user_attrs[k] for k in attrs if k in study.user_attrs}
    require_same(recorded, {k: attrs[k] for k in recorded}, where="the storage", what=f"study {study.study_name!r}",
                 hint="use another {study} name", error=StudyError)
    for key, value in attrs.items():
        if key not in recorded:
            study.set_user_attr(key, value)


def complete(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def plan_trials(study: optuna.Study, total: int, attrs_for: Callable[[int], dict] | None = None) -> int:
    """Queue the slots that the study needs to end with ``total`` complete trials; returns how
    many this process queued (0 when none were missing or another process queued them).
    ``attrs_for(slot)``: more user attributes of a slot's trial (what it is to do)."""
    fail_stale(study)
    with budget_lock(study):
        trials = study.get_trials(deepcopy=False)
        for t in trials:  # a RUNNING trial without a slot was not started by a worker: it never ends
            if t.state == TrialState.RUNNING and "slot" not in t.user_attrs:
                study.tell(t.number, state=TrialState.FAIL)
        covered = {t.user_attrs["slot"] for t in trials if "slot" in t.user_attrs and _covers(t)}
        legacy = sum(1 for t in trials if "slot" not in t.user_attrs and t.state == TrialState.COMPLETE)
        missing = [slot for slot in range(total) if slot not in covered][:max(0, total - legacy - len(covered))]
        for slot in missing:
            study.enqueue_trial({}, user_attrs={"slot": slot, **(attrs_for(slot) if attrs_for else {})})
    return len(missing)


def _covers(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether ``trial`` takes care of its slot: done, running or queued, or failed with a retry
    queued (every failed slot trial is retried, up to :data:`MAX_RETRIES` times)."""
    if trial.state in LIVE:
        return True
    retried = len(trial.system_attrs.get("retry_history", [])) + 1
    return trial.state == TrialState.FAIL and retried <= MAX_RETRIES


def _rdb(study: optuna.Study) -> optuna.storages.RDBStorage:
    """The RDBStorage under Optuna's cache (its URL and engine)."""
    return getattr(study._storage, "_backend", study._storage)


@contextmanager
def budget_lock(study: optuna.Study) -> Iterator[None]:
    """Held while slots are queued, by one process at a time on every machine that sees the storage."""
    storage = _rdb(study)
    url = storage.url
    if url.startswith("sqlite:///"):
        with FileLock(url.removeprefix("sqlite:///") + ".lock"):
            yield
        return
    if not url.startswith("postgresql"):
        raise StudyError(f"storage {_safe(url)!r} is neither SQLite nor PostgreSQL",
                         hint="give {storage} as sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB")
    key = int.from_bytes(hashlib.sha256(f"nas-budget:{study.study_name}".encode()).digest()[:8], "little", signed=True)
    with storage.engine.connect() as connection:
        connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()


@contextmanager
def _quiet() -> Iterator[None]:
    """Heartbeats and retries are "experimental" in Optuna since 2.8 (2021); say it once, in the docs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def fail_stale(study: optuna.Study) -> None:
    """Fail the trials of dead workers (heartbeat older than the grace period) and queue retries."""
    with _quiet():
        optuna.storages.fail_stale_trials(study)


def claim_trial(study: optuna.Study, total: int,
                sampler_for: Callable[[int], optuna.samplers.BaseSampler] | None = None) -> optuna.Trial | None:
    """A queued trial, now RUNNING and this process's alone; None if none is left to claim, or if
    ``total`` trials are already done or running (a budget lowered since the slots were queued).
    ``sampler_for(slot)``: the sampler that fills the trial in, seeded by its slot, so a trial
    draws the same whichever worker runs it."""
    if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))) >= total:
        return None
    with _sqlite_guard(study):
        claimed = _compare_and_set(study)
    if claimed is None:
        return None
    if sampler_for is not None:
        study.sampler = sampler_for(claimed.user_attrs.get("slot", claimed.number))
    trial = optuna.Trial(study, claimed._trial_id)
    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # who runs it
    return trial


def _compare_and_set(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    for queued in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        try:  # Optuna's compare-and-set: WAITING -> RUNNING succeeds for one process only
            if study._storage.set_trial_state_values(queued._trial_id, state=TrialState.RUNNING):
                study._storage.record_heartbeat(queued._trial_id)
                return queued
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


@contextmanager
def _sqlite_guard(study: optuna.Study) -> Iterator[None]:
    """For SQLite, the claim under a file lock: Optuna's compare-and-set reads with ``SELECT ...
    FOR UPDATE``, which PostgreSQL honours and SQLite (through pysqlite, whose SELECT runs outside
    the write transaction) does not, so two workers could both claim one trial (seen in tests)."""
    url = _rdb(study).url
    if not url.startswith("sqlite:///"):
        yield
        return
    with FileLock(url.removeprefix("sqlite:///") + ".claim.lock"):
        yield


def drain(study: optuna.Study, total: int, run: Callable[[optuna.Trial], float | Sequence[float]], *,
          wait_s: float, sampler_for: Callable[[int], optuna.samplers.BaseSampler] | None = None,
          on_done: Callable[[optuna.trial.FrozenTrial], None] | None = None) -> int:
    """Claim and ``run`` queued trials, with a heartbeat, until none is left to claim and none runs
    elsewhere (waiting ``wait_s`` between looks); returns how many ran here. A trial whose ``run``
    raises is failed and queued again, and the error goes on up."""
    ran = 0
    while True:
        fail_stale(study)
        trial = claim_trial(study, total, sampler_for)
        if trial is None:
            if not running(study):
                return ran
            time.sleep(wait_s)  # trials run elsewhere: wait for them, or for their retries
            continue
        with heartbeat(study, trial):
            try:
                values = run(trial)
            except BaseException:
                retry(study, study.tell(trial, state=TrialState.FAIL))  # the slot is redone
                raise
        frozen = study.tell(trial, values, skip_if_finished=True)
        if frozen.state != TrialState.COMPLETE:
            continue  # taken for dead (heartbeats late beyond the grace period): its retry redoes it
        ran += 1
        if on_done is not None:
            on_done(frozen)


def retry(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """Queue a copy of ``trial`` (same architecture and slot), as for a trial of a dead worker."""
    with _quiet():
        RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)(study, trial)


def running(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


@contextmanager
def heartbeat(study: optuna.Study, trial: optuna.Trial) -> Iterator[None]:
    """Record ``trial``'s heartbeat in the storage every few seconds while the block runs."""
    storage, stop = study._storage, threading.Event()

    def beat() -> None:
        while not stop.wait(storage.get_heartbeat_interval()):
            storage.record_heartbeat(trial._trial_id)

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
