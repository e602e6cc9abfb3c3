"""The Optuna study that holds a search: storage, creation, resume, counting, the exact-N lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
from filelock import FileLock
from optuna.trial import TrialState

from nas_core.errors import InputError
from nas_core.train import require_same

COUNTED = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING, TrialState.PRUNED)


class StudyError(InputError):
    """The study cannot be opened or does not fit the request (one line, for the CLI)."""


def default_storage(run_dir: str | Path) -> str:
    """SQLite file in the run directory."""
    return f"sqlite:///{Path(run_dir).resolve() / 'study.db'}"


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """An Optuna storage for ``url`` (sqlite/postgresql/mysql URL, or a ``.log`` journal file)."""
    try:
        if url.endswith(".log") and "://" not in url:
            from optuna.storages.journal import JournalFileBackend

            return optuna.storages.JournalStorage(JournalFileBackend(url))
        kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    except Exception as e:  # sqlalchemy/driver errors vary: report them in one line
        raise StudyError(f"cannot open study storage {url!r}: {str(e).splitlines()[0]}") from None


def open_study(storage: optuna.storages.BaseStorage, name: str, directions: list[str],
               sampler: optuna.samplers.BaseSampler | None = None) -> optuna.Study:
    """Create the study, or load it if it exists with the same objectives."""
    try:
        existing = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    except KeyError:
        return optuna.create_study(study_name=name, storage=storage, sampler=sampler, directions=directions)
    have = [d.name.lower() for d in existing.directions]
    require_same({"directions": have}, {"directions": directions}, where="the storage", what=f"study {name!r}",
                 hint="use another {study} name or the same {cost}", error=StudyError)
    return existing


def counted(study: optuna.Study) -> int:
    """Trials that count toward the total: finished or in progress (failed ones are redone)."""
    return len(study.get_trials(deepcopy=False, states=COUNTED))


def fail_stale_trials(study: optuna.Study) -> int:
    """Mark RUNNING trials of an earlier, interrupted search as FAIL so they are redone.

    Call only while no worker runs (before starting them)."""
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
    for t in stale:
        study.tell(t.number, state=TrialState.FAIL)
    return len(stale)


@contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """An exclusive lock between processes on this machine (count + ask must not interleave):
    ``filelock.FileLock``, i.e. ``flock`` on POSIX and ``msvcrt.locking`` on Windows."""
    with FileLock(str(path)):
        yield


def ask_within_budget(study: optuna.Study, total: int, lock_path: str | Path) -> optuna.Trial | None:
    """A new trial if fewer than ``total`` trials count, else None. With the lock held, so that
    K workers together create exactly ``total`` trials."""
    with file_lock(lock_path):
        if counted(study) >= total:
            return None
        return study.ask()
