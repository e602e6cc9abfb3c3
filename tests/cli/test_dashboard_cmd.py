"""`nas dashboard`: finds the run's study, binds to 127.0.0.1, explains a missing extra."""

import sys

import pytest
from typer.testing import CliRunner

from nas_cli.main import app

runner = CliRunner()


def test_no_study_is_exit_2(tmp_path):
    result = runner.invoke(app, ["dashboard", str(tmp_path)])
    assert result.exit_code == 2 and "no study in" in result.output


def test_missing_optuna_dashboard_says_how_to_install(tmp_path, monkeypatch):
    (tmp_path / "search").mkdir()
    (tmp_path / "search" / "study.db").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "optuna_dashboard", None)  # import fails as if not installed
    result = runner.invoke(app, ["dashboard", str(tmp_path)])
    assert result.exit_code == 2 and "nas-cli[dashboard]" in result.output


def test_serves_the_run_storage_on_localhost(tmp_path, monkeypatch):
    (tmp_path / "search").mkdir()
    (tmp_path / "search" / "study.db").write_bytes(b"")
    calls = {}
    fake = type(sys)("optuna_dashboard")
    fake.run_server = lambda storage, host, port: calls.update(storage=storage, host=host, port=port)
    monkeypatch.setitem(sys.modules, "optuna_dashboard", fake)
    result = runner.invoke(app, ["dashboard", str(tmp_path), "--port", "9999"])
    assert result.exit_code == 0, result.output
    assert calls == {"storage": f"sqlite:///{(tmp_path / 'search' / 'study.db').resolve()}",
                     "host": "127.0.0.1", "port": 9999}
    assert "http://127.0.0.1:9999/" in result.output


@pytest.mark.parametrize("name", ["--help"])
def test_help(name):
    assert runner.invoke(app, ["dashboard", name]).exit_code == 0
