"""`nas run --config/--set/--show-config`, the default run folder with `runs/latest`, and `--overwrite`,
through the CLI (smoke profile: synthetic data, tiny space, seconds)."""

import json
import os
import re
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from nas_cli.commands import run as run_command
from nas_cli.main import app
from nas_cli.pipeline import Pipeline, load_run_config

runner = CliRunner()
SMOKE = ["run", "--profile", "smoke", "--device", "cpu"]
FAST = ["--trials", "2", "--top", "1"]


def show(*args: str) -> str:
    result = runner.invoke(app, ["run", *args, "--show-config"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("args, overrides, options", [
    (["--profile", "quick"], [], {"profile": "quick"}),
    (["--profile", "paper", "--supernet-epochs", "50", "--subset", "2000", "--width", "12"], [],
     {"profile": "paper", "supernet_epochs": 50.0, "subset": 2000, "width": 12}),
    (["--profile", "smoke", "--cost", "params", "--image-size", "16", "--study", "mine", "--seed", "3"],
     ["supernet.dropout_rate=0.3", "data.subsets={train = 64}", "standalone.label_smoothing=0.1"],
     {"profile": "smoke", "cost": "params", "image_size": 16, "study": "mine", "seed": 3}),
])
def test_show_config_round_trip(tmp_path, monkeypatch, args, overrides, options):
    monkeypatch.chdir(tmp_path)
    text = show(*args, *(a for o in overrides for a in ("--set", o)))
    saved = tmp_path / "run.toml"
    saved.write_text(text)
    assert show("--config", str(saved)) == text  # the printed file gives the same settings back
    expected = load_run_config(None, overrides, **options)
    assert load_run_config(saved) == expected
    assert expected.search.study == options.get("study", "oneshot")
    assert list(tmp_path.iterdir()) == [saved], "--show-config wrote something"


def test_layers_named_options_win_over_set_over_the_file(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('profile = "smoke"\n[supernet]\ndropout_rate = 0.3\nwidth = 6\n[search]\ntrials = 5\n')
    text = show("--config", str(config), "--set", "supernet.dropout_rate=0.2", "--set", "search.trials=4",
                "--dropout-rate", "0.25")
    assert 'profile = "smoke"' in text and 'space = "tiny"' in text  # the file's profile is the base
    assert "dropout_rate = 0.25" in text  # named option over --set over the file
    assert "trials = 4" in text  # --set over the file
    assert "width = 6" in text  # the file over the profile


def test_epochs_clear_the_profile_steps():
    text = show("--profile", "paper", "--supernet-epochs", "20")
    supernet = text.split("[supernet]")[1].split("[search]")[0]
    assert "epochs = 20.0" in supernet and "# steps: not set" in supernet
    assert "steps = 5000" not in supernet


@pytest.mark.parametrize("toml, sets, message", [
    ("[supernet]\ndropout_rat = 0.2\n", [], "unknown key supernet.dropout_rat in "),
    ("", ["supernet.dropout_rat=0.2"], "unknown key supernet.dropout_rat"),
    ("", ["supernet.width=x"], 'supernet.width must be an int, got "x"'),
    ("[supernet]\nwidth = 8.5\n", [], "supernet.width must be an int, got 8.5"),
    ("[search]\ntrials = true\n", [], "search.trials must be an int, got true"),
    ("[standalone]\nepochs = \"10\"\n", [], 'standalone.epochs must be a number, got "10"'),
    ("supernet = 3\n", [], "supernet must be a table"),
    ("epochs = 3\n", [], "unknown key epochs"),
    ("[data]\nsubsets = {trian = 100}\n", [], "data.subsets.trian is not a split"),
    ("[export]\nopset = 18\n", [], "unknown key export"),
    ("profile = \"fast\"\n", [], "unknown profile 'fast'"),
    ("[supernet\n", [], "is not a valid TOML file"),
    ("", ["dropout_rate"], "is not KEY=VALUE"),
    ("", ["supernet.batch_size=48"], "supernet: batch_size 48 must be a multiple of ghost_batch"),
    ("", ["search.sampler=nope"], "unknown sampler 'nope'"),
])
def test_bad_settings_exit_2_naming_the_key(tmp_path, toml, sets, message):
    config = tmp_path / "run.toml"
    config.write_text(toml)
    args = ["--config", str(config)] + [a for s in sets for a in ("--set", s)]
    result = runner.invoke(app, ["run", *args, "--show-config"])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output and "# nas run settings" not in result.output


def test_missing_config_file_exits_2(tmp_path):
    result = runner.invoke(app, [*SMOKE, "--config", str(tmp_path / "nope.toml"), "--show-config"])
    assert result.exit_code == 2 and "cannot read the config file" in result.output


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """A real smoke run in a fresh working directory, without --out."""
    cwd = tmp_path_factory.mktemp("cwd")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        result = runner.invoke(app, [*SMOKE, *FAST])
    assert result.exit_code == 0, result.output
    return cwd, result.output


def test_default_out_is_a_new_folder_linked_as_latest(default_run):
    cwd, output = default_run
    latest = cwd / "runs" / "latest"
    assert latest.is_symlink() and (latest / "summary.json").exists()
    run_dir = latest.resolve()
    assert re.fullmatch(r"synthetic-smoke-\d{8}-\d{6}", run_dir.name)
    assert os.readlink(latest) == run_dir.name  # relative: the runs folder can move
    assert f"runs/{run_dir.name} (runs/latest)" in " ".join(output.split())
    storage = f"sqlite:///{run_dir / 'search' / 'study.db'}"
    assert run_dir.name in optuna.get_all_study_names(storage)  # the study is named after the run
    assert "oneshot" not in optuna.get_all_study_names(storage)


def test_header_says_the_profile_caps_the_data(default_run, tmp_path, monkeypatch):
    _, output = default_run
    assert "synthetic (capped: 320 train / 100 val / 100 test images)" in " ".join(output.split())
    stub_pipeline(monkeypatch)
    result = runner.invoke(app, [*SMOKE, "--subset", "50", "--image-size", "16", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert "synthetic (capped: 50 train / 50 val / 50 test images, 16 px)" in " ".join(result.output.split())
    result = runner.invoke(app, [*SMOKE, "--set", "data.subsets={}", "--out", str(tmp_path / "r2")])
    assert result.exit_code == 0 and "capped" not in result.output


def stub_pipeline(monkeypatch) -> list:
    """Pipelines the command starts, recorded instead of run."""
    started = []
    monkeypatch.setattr(Pipeline, "run", lambda self: started.append(self) or {})
    monkeypatch.setattr(run_command, "_table", lambda summary, out: None)
    return started


def test_a_second_run_with_other_settings_gets_its_own_folder(tmp_path, monkeypatch):
    started = stub_pipeline(monkeypatch)
    monkeypatch.chdir(tmp_path)
    for seed in ("0", "1"):  # within the same second, too
        result = runner.invoke(app, [*SMOKE, "--seed", seed])
        assert result.exit_code == 0, result.output
    first, second = (Path(p.out) for p in started)
    assert first != second and first.parent == second.parent == Path("runs")
    assert (tmp_path / "runs" / "latest").resolve() == (tmp_path / second).resolve()
    assert [p.config.search.study for p in started] == [first.name, second.name]
    assert started[1].config.data.seed == 1


def test_out_latest_resumes_the_default_run(default_run, monkeypatch):
    cwd, _ = default_run
    monkeypatch.chdir(cwd)
    result = runner.invoke(app, [*SMOKE, *FAST, "--out", "runs/latest"])
    assert result.exit_code == 0, result.output
    assert result.output.count("done before, skipped") == 5
    run_dir = (cwd / "runs" / "latest").resolve()
    assert run_dir.name in optuna.get_all_study_names(f"sqlite:///{run_dir / 'search' / 'study.db'}")


def test_no_symlinks_is_said_once_and_the_run_goes_on(tmp_path, monkeypatch):
    def no_symlink(*args, **kwargs):
        raise OSError(1, "symbolic links are not supported")

    started = stub_pipeline(monkeypatch)
    monkeypatch.setattr(os, "symlink", no_symlink)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, SMOKE)
    assert result.exit_code == 0, result.output
    assert len(started) == 1 and not (tmp_path / "runs" / "latest").exists()
    text = " ".join(result.output.split())
    assert text.count("no runs/latest link") == 1 and f"resume this run with --out {started[0].out}" in text


def test_latest_left_alone_when_it_is_a_folder(tmp_path, monkeypatch):
    started = stub_pipeline(monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "latest").mkdir(parents=True)  # a run folder of an earlier version
    result = runner.invoke(app, SMOKE)
    assert result.exit_code == 0 and len(started) == 1
    assert "runs/latest is not a link, left as it is" in " ".join(result.output.split())
    assert not (tmp_path / "runs" / "latest").is_symlink()


def test_overwrite_starts_a_run_folder_afresh(tmp_path, monkeypatch):
    out = tmp_path / "run"
    (out / "supernet").mkdir(parents=True)
    (out / "pipeline.json").write_text(json.dumps({"config": {"search": {"study": "old"}}, "phases": {}}))
    started = stub_pipeline(monkeypatch)
    result = runner.invoke(app, [*SMOKE, "--out", str(out), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert list(out.iterdir()) == []  # emptied before the run began
    assert started[-1].config.search.study == "run"  # a fresh run: named after its folder


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me")
    result = runner.invoke(app, [*SMOKE, "--out", str(out), "--overwrite"])
    assert result.exit_code == 2 and "not a run folder" in result.output and "--out" in result.output
    assert (out / "thesis.tex").read_text() == "keep me"


def test_explicit_out_with_other_settings_is_still_refused(default_run):
    cwd, _ = default_run
    run_dir = (cwd / "runs" / "latest").resolve()
    result = runner.invoke(app, [*SMOKE, *FAST, "--out", str(run_dir), "--width", "6"])
    assert result.exit_code == 2 and "supernet.width" in result.output
