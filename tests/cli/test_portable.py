"""Portable where it costs nothing: no fcntl (a SQLite study's budget lock is filelock's), the data cache from
platformdirs with $NAS_DATA_DIR and $XDG_CACHE_HOME honoured, `nas dashboard --host`."""

import ast
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from nas_cli.main import app
from nas_cli.search import SearchConfig, run_search
from nas_core.data import DataSpec, load_data
from nas_core.data._files import cache_root, dataset_cache
from nas_core.train import SupernetConfig, train_supernet

PACKAGES = Path(__file__).resolve().parents[2] / "packages"
runner = CliRunner()


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_imports_fcntl():
    """fcntl exists only on POSIX: importing it stops `nas` from starting on Windows."""
    sources = sorted(PACKAGES.glob("*/src/**/*.py"))
    assert len(sources) > 20
    assert [str(p) for p in sources if "fcntl" in imported_modules(p)] == []


# -- the budget lock of a SQLite study ----------------------------------------------------------
COUNT_UNDER_LOCK = """
import sys, time
from pathlib import Path
from nas_cli.search import open_storage, open_study
from nas_cli.search._study import budget_lock
url, counter = sys.argv[1:]
study = open_study(open_storage(url), "s", ["maximize"])
for _ in range(40):
    with budget_lock(study):
        value = int(Path(counter).read_text())
        time.sleep(0.002)  # widen the read-modify-write window
        Path(counter).write_text(str(value + 1))
"""


def test_budget_lock_excludes_other_processes(tmp_path):
    counter = tmp_path / "counter"
    counter.write_text("0")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    procs = [subprocess.Popen([sys.executable, "-c", COUNT_UNDER_LOCK, url, str(counter)]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert counter.read_text() == "80"  # no lost update


@pytest.mark.slow
def test_two_search_workers_still_give_exactly_n_trials(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    config = SupernetConfig(space="tiny", width=4, cells_per_stack=1, steps=2, batch_size=32, ghost_batch=16,
                            log_every=2, checkpoint_every=2, device="cpu")
    train_supernet(config, load_data("synthetic", "train", image_size=12, subset=64), tmp_path / "supernet")
    data = DataSpec("synthetic", subsets={"train": 64, "val": 40}, image_size=12)
    search = SearchConfig(trials=6, workers=2, device="cpu", batch_size=40)
    study = run_search(tmp_path / "search", tmp_path / "supernet", data, search)
    states = [t.state for t in study.trials]
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(t.user_attrs["slot"] for t in done) == list(range(6))  # exactly N, one per slot
    assert set(states) <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL}  # FAIL: retried


# -- the data cache -----------------------------------------------------------------------------
def test_cache_root_honours_nas_data_dir_first(tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "data" and dataset_cache("cifar10") == tmp_path / "data" / "cifar10"


@pytest.mark.skipif(sys.platform != "linux", reason="XDG is the Linux convention")
def test_cache_root_honours_xdg_cache_home_then_home(tmp_path, monkeypatch):
    monkeypatch.delenv("NAS_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "oneshot-nas"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "oneshot-nas"
    monkeypatch.setenv("NAS_DATA_DIR", "")  # empty: unset
    assert cache_root() == tmp_path / "home" / ".cache" / "oneshot-nas"


# -- nas dashboard --host -----------------------------------------------------------------------
@pytest.fixture
def served(tmp_path, monkeypatch):
    """A run directory with a study, and optuna_dashboard.run_server recording its arguments."""
    (tmp_path / "search").mkdir()
    (tmp_path / "search" / "study.db").write_bytes(b"")
    calls = []
    fake = type(sys)("optuna_dashboard")
    fake.run_server = lambda storage, host, port: calls.append({"storage": storage, "host": host, "port": port})
    monkeypatch.setitem(sys.modules, "optuna_dashboard", fake)
    return tmp_path, calls


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.7", "::", "my-server"])
def test_dashboard_binds_the_given_host_and_warns_off_loopback(served, host):
    run_dir, calls = served
    result = runner.invoke(app, ["dashboard", str(run_dir), "--host", host, "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert [(c["host"], c["port"]) for c in calls] == [(host, 8123)]
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and f"binding to {host}" in warnings[0]
    shown = f"[{host}]" if ":" in host else host
    assert f"http://{shown}:8123/" in result.output


@pytest.mark.parametrize("host", [None, "localhost", "127.0.0.2", "::1"])
def test_dashboard_on_loopback_does_not_warn(served, host):
    run_dir, calls = served
    result = runner.invoke(app, ["dashboard", str(run_dir), *(["--host", host] if host else [])])
    assert result.exit_code == 0, result.output
    assert [c["host"] for c in calls] == [host or "127.0.0.1"] and "warning" not in result.output
