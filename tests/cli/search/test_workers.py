"""Search workers on one study: queued slots, Optuna's compare-and-set claims and heartbeats, on
SQLite and on a real PostgreSQL server; `nas search` processes joining a run, one of them killed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from typer.testing import CliRunner

from nas_cli.main import app
from nas_cli.pipeline import run_config
from nas_cli.search import claim_trial, open_storage, open_study, plan_trials
from nas_core.train import train_supernet

optuna.logging.set_verbosity(optuna.logging.WARNING)
BIN = Path(sys.executable).parent
runner = CliRunner()


def states(study) -> dict[str, int]:
    found: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        found[t.state.name] = found.get(t.state.name, 0) + 1
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    return request.getfixturevalue("postgres_db")


def test_slots_are_queued_once_and_each_is_claimed_by_one_worker(storage_url):
    study = open_study(open_storage(storage_url), "s", ["maximize"])
    assert plan_trials(study, 5) == 5
    assert plan_trials(study, 5) == 0  # queued already: nothing more
    claimed = [claim_trial(study, 5) for _ in range(6)]
    assert claimed[-1] is None and len({t.number for t in claimed[:5]}) == 5
    assert sorted(t.user_attrs["slot"] for t in study.get_trials(states=(TrialState.RUNNING,))) == [0, 1, 2, 3, 4]
    for t in claimed[:5]:
        study.tell(t, 0.5)
    assert plan_trials(study, 7) == 2  # a raised budget queues the missing slots only
    assert states(study) == {"COMPLETE": 5, "WAITING": 2}


CLAIM = """
import sys, optuna
from nas_cli.search import claim_trial, open_storage, open_study, plan_trials
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = open_study(open_storage(sys.argv[1]), "race", ["maximize"])
plan_trials(study, 18)  # every process tries to queue the budget
while (trial := claim_trial(study, 18)) is not None:
    study.tell(trial, float(trial.number))
"""


@pytest.mark.slow
def test_racing_processes_queue_and_run_exactly_n_trials(postgres_db):
    storage_url = postgres_db
    procs = [subprocess.Popen([sys.executable, "-c", CLAIM, storage_url]) for _ in range(3)]
    assert [p.wait(timeout=240) for p in procs] == [0, 0, 0]
    study = optuna.load_study(study_name="race", storage=open_storage(storage_url))
    assert states(study) == {"COMPLETE": 18}  # none lost, none twice, none beyond the budget
    assert sorted(t.user_attrs["slot"] for t in study.trials) == list(range(18))


# -- `nas search` on a PostgreSQL study ----------------------------------------------------------
@pytest.fixture
def run_folder(tmp_path, postgres_db):
    """A `nas run` folder whose one-shot model is trained and whose study lives on PostgreSQL."""
    config = run_config("smoke", storage=postgres_db, trials=10, cost="latency", device="cpu", study="shared",
                        subset=800)
    out = tmp_path / "run"
    train_supernet(config.supernet, config.data.load("train"), out / "supernet")
    (out / "pipeline.json").write_text(json.dumps({"config": config.to_dict(), "phases": {}}))
    return out, postgres_db


def nas_search(run: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([str(BIN / "nas"), "search", "--run", str(run), "--heartbeat", "1", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)  # independent commands, as on other machines


@pytest.mark.slow
def test_a_worker_killed_mid_trial_is_redone_and_the_study_ends_with_exactly_n(run_folder):
    run, url = run_folder
    workers = [nas_search(run) for _ in range(3)]
    study = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the study appears when the first worker opens it
        try:
            study = optuna.load_study(study_name="shared", storage=open_storage(url))
            victims = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                       if "worker" in t.user_attrs]
        except KeyError:
            victims = []
        if victims:
            break
        time.sleep(0.02)
    victim = victims[0]
    os.kill(int(victim.user_attrs["worker"].split(":")[1]), signal.SIGKILL)
    outputs = [w.communicate(timeout=240)[0] for w in workers]
    codes = sorted(w.returncode for w in workers)
    assert codes == [-signal.SIGKILL, 0, 0], outputs
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(done) == 10, states(study)  # exactly N, on all machines together
    assert sorted(t.user_attrs["slot"] for t in done) == list(range(10))  # no slot scored twice
    killed = study.trials[victim.number]
    assert killed.state == TrialState.FAIL  # failed by its missing heartbeat ...
    redo = [t for t in done if t.system_attrs.get("failed_trial") == victim.number]
    # ... and redone once, with the choices it had drawn (a kill during the draw leaves a part of them)
    assert len(redo) == 1 and killed.params.items() <= redo[0].params.items()


def test_bad_storage_and_foreign_studies_are_refused_in_one_line(run_folder):
    run, url = run_folder
    wrong_password = url.replace("nas:nas@", "nas:wrong@")
    for storage, expected in ((url.rsplit(":", 1)[0] + ":1/nas", "cannot open study storage"),
                              (wrong_password, "password authentication failed"),
                              ("not-a-url", "is not a database URL")):
        before = sorted(p.relative_to(run) for p in run.rglob("*"))
        result = runner.invoke(app, ["search", "--run", str(run), "--storage", storage])
        assert result.exit_code == 2 and expected in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1 and "wrong" not in result.output  # no password shown
        assert sorted(p.relative_to(run) for p in run.rglob("*")) == before  # nothing written
    # A study whose trials were scored with another one-shot model.
    study = open_study(open_storage(url), "shared", ["maximize", "minimize"])
    study.set_user_attr("supernet_sha256", "0" * 64)
    result = runner.invoke(app, ["search", "--run", str(run)])
    assert result.exit_code == 2 and "supernet_sha256" in result.output, result.output
    result = runner.invoke(app, ["search", "--run", str(run.parent)])
    assert result.exit_code == 2 and "not a `nas run` folder" in result.output
