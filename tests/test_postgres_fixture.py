"""The PostgreSQL fixtures of tests/conftest.py: a real server, a fresh database per test, and
password authentication (a wrong password is refused)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import optuna
import psycopg
import pytest

DATABASES: list[str] = []  # the databases of earlier tests in this module


def test_an_optuna_study_runs_on_the_server(postgres_db):
    url = postgres_db.replace("postgresql://", "postgresql+psycopg://", 1)
    storage = optuna.storages.RDBStorage(url)
    study = optuna.create_study(study_name="s", storage=storage)
    trial = study.ask()
    study.tell(trial, trial.suggest_float("x", 0, 1))
    again = optuna.load_study(study_name="s", storage=optuna.storages.RDBStorage(url))
    assert [t.state for t in again.trials] == [optuna.trial.TrialState.COMPLETE]
    storage.engine.dispose()


@pytest.mark.parametrize("run", ["first", "second"])
def test_each_test_gets_a_fresh_empty_database(postgres_db, run):
    name = urlsplit(postgres_db).path.lstrip("/")
    with psycopg.connect(postgres_db) as conn:
        assert conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall() == []
        conn.execute("CREATE TABLE marker (x int)")  # the other run would see it in a shared database
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert name in existing and not existing & set(DATABASES)  # earlier ones were dropped
    DATABASES.append(name)


def test_a_wrong_password_is_refused(postgres_url):
    parts = urlsplit(postgres_url)
    wrong = parts._replace(netloc=f"{parts.username}:not-{parts.password}@{parts.hostname}:{parts.port}")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(urlunsplit(wrong), connect_timeout=10).close()
