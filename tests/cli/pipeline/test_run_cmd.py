"""`nas run` end to end with the smoke profile (synthetic data, tiny space, seconds)."""

import json

import optuna
import pytest
from typer.testing import CliRunner

from nas_cli.main import app

runner = CliRunner()
SMOKE = ["run", "--profile", "smoke", "--device", "cpu"]
FAST = ["--trials", "2", "--top", "1"]  # the smoke run's phases, with less work in search and train


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = runner.invoke(app, [*SMOKE, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_writes_a_valid_summary(run_dir):
    out, output = run_dir
    summary = json.loads((out / "summary.json").read_text())
    for key in ("dataset", "profile", "sampler", "trials", "best", "onnx", "seconds", "device", "versions"):
        assert key in summary
    best = summary["best"]
    assert summary["dataset"] == "synthetic" and summary["trials"] == 6
    assert {"arch", "arch_id", "one_shot_accuracy", "val_accuracy", "test_accuracy", "params", "flops"} <= set(best)
    assert 0 <= best["val_accuracy"] <= 1 and best["params"] > 0
    assert len(summary["finalists"]) == 2
    assert all(summary["seconds"][p] is not None for p in ("supernet", "search", "train", "export"))
    assert "nas run: best architecture" in output


def test_writes_report_and_plots(run_dir):
    out, _ = run_dir
    report = (out / "report.md").read_text()
    assert "## Best architecture" in report
    onnx = json.loads((out / "summary.json").read_text())["onnx"]
    assert onnx["path"] == "best/model.onnx" and onnx["opset"] == 18  # relative to the run folder
    assert 0.9 <= onnx["top1_agreement"] <= 1 and onnx["latency_ms_batch1"] > 0
    deployment = report.split("## Deployment")[1].split("##")[0]
    assert f"top-1 agreement {100 * onnx['top1_agreement']:.2f}%" in deployment
    assert "max abs logit difference" in deployment and "format_version" not in deployment
    for name in ("search_history", "accuracy_vs_cost", "training_curves"):
        png = out / "plots" / f"{name}.png"
        assert png.read_bytes()[:4] == b"\x89PNG" and f"plots/{name}.png" in report


def test_rerun_skips_finished_phases(run_dir):
    out, _ = run_dir
    before = json.loads((out / "pipeline.json").read_text())
    result = runner.invoke(app, [*SMOKE, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.count("done before, skipped") == 5
    assert json.loads((out / "pipeline.json").read_text())["phases"] == before["phases"]


def test_more_trials_continue_the_search(tmp_path, run_dir):
    out, _ = run_dir
    result = runner.invoke(app, [*SMOKE, "--out", str(out), "--trials", "8"])
    assert result.exit_code == 0, result.output
    assert "1/5 supernet" in result.output and result.output.count("done before, skipped") == 1
    storage = f"sqlite:///{out / 'search' / 'study.db'}"
    assert len(optuna.load_study(study_name=out.name, storage=storage).trials) == 8


def test_interrupted_run_resumes(tmp_path, monkeypatch):
    from nas_cli.pipeline import Pipeline

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    out = tmp_path / "run"
    monkeypatch.setattr(Pipeline, "train_finalists", boom)
    result = runner.invoke(app, [*SMOKE, *FAST, "--out", str(out)])
    assert result.exit_code != 0
    state = json.loads((out / "pipeline.json").read_text())
    assert set(state["phases"]) == {"supernet", "search"}
    monkeypatch.undo()
    result = runner.invoke(app, [*SMOKE, *FAST, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.count("done before, skipped") == 2
    assert (out / "summary.json").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "nope"], "unknown"),
        (["--sampler", "nope"], "unknown sampler"),
        (["--trials", "0"], "give --trials of at least 1"),
        (["--top", "7"], "choose --top between 1 and --trials"),
        (["--storage", "nosuchdb://x"], "cannot open study storage"),
        (["--dataset", "cifar10", "--data-dir", "/nonexistent"], "cifar10"),
        (["--space", "nope"], "unknown search space"),
    ],
)
def test_user_errors_exit_2(tmp_path, args, message):
    result = runner.invoke(app, [*SMOKE, "--out", str(tmp_path / "r"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_run_dir_of_another_dataset_is_refused(run_dir):
    out, _ = run_dir
    result = runner.invoke(app, [*SMOKE, "--out", str(out), "--dataset", "fashion-mnist"])
    assert result.exit_code == 2 and "dataset" in result.output
