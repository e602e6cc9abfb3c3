"""`nas correlate` and `nas ablate dropout` through the CLI (smoke profile: synthetic data, seconds)."""

import json

import pytest
from typer.testing import CliRunner

from nas_cli.main import app

runner = CliRunner()
SMALL = ["--profile", "smoke", "--archs", "4", "--pool", "6", "--bootstrap", "20", "--kl-examples", "8",
         "--device", "cpu"]


@pytest.fixture(scope="module")
def ablation(tmp_path_factory):
    out = tmp_path_factory.mktemp("ablation")
    result = runner.invoke(app, ["ablate", "dropout", "--out", str(out), "--rates", "0,0.2", *SMALL])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_ablate_writes_a_table_per_rate(ablation):
    out, output = ablation
    data = json.loads((out / "ablation.json").read_text())
    assert data["rates"] == [0.0, 0.2]
    assert [row["dropout_rate"] for row in data["table"]] == [0.0, 0.2]
    assert [row["dropout_rate"] for row in data["by_rate"]] == [0.0, 0.2]
    for rate in ("r0-s0", "r0.2-s0"):
        assert any((out / "supernets" / rate / "checkpoints").iterdir())
    assert "path-dropout ablation" in output and "Kendall tau" in output


def test_correlate_reuses_shared_standalone_results(ablation, tmp_path):
    out, _ = ablation
    result = runner.invoke(app, ["correlate", "--supernet", str(out / "supernets" / "r0.2-s0"),
                                 "--out", str(tmp_path / "c"), "--standalone-dir", str(out / "standalone"), *SMALL])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "c" / "correlation.json").read_text())
    ablated = json.loads((out / "correlation.json").read_text())
    assert [a["arch_id"] for a in report["archs"]] == [a["arch_id"] for a in ablated["archs"]]
    assert "current training" not in result.output  # every stand-alone result was there already
    assert (tmp_path / "c" / "plots" / "correlation.svg").exists()


@pytest.mark.parametrize("args, message", [
    (["--profile", "nope"], "unknown profile"),
    (["--pool", "3"], "--pool"),
    (["--supernet", "/no/such/dir"], "no such folder"),
])
def test_correlate_user_errors_exit_2(ablation, tmp_path, args, message):
    out, _ = ablation
    base = ["correlate", "--out", str(tmp_path / "c"), *SMALL]
    if "--supernet" not in args:
        base += ["--supernet", str(out / "supernets" / "r0-s0")]
    result = runner.invoke(app, [*base, *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_correlate_refuses_a_supernet_of_other_data(ablation, tmp_path):
    out, _ = ablation
    result = runner.invoke(app, ["correlate", "--supernet", str(out / "supernets" / "r0-s0"), "--out",
                                 str(tmp_path / "c"), *SMALL, "--profile", "quick", "--dataset", "synthetic"])
    assert result.exit_code == 2, result.output
    assert "made with other settings (data.size" in result.output and "--dataset" in result.output


def test_ablate_model_seeds_retrain_one_rate_scored_as_asked(tmp_path):
    # One rate, two model seeds: how much retraining moves the ranking (docs/results.md, issue 15).
    result = runner.invoke(app, ["ablate", "dropout", "--out", str(tmp_path), "--rates", "0.2", "--model-seeds", "0,1",
                                 "--score-images", "16", "--score-mode", "recalibrate", *SMALL])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "correlation.json").read_text())
    assert report["config"]["score_images"] == 16 and report["config"]["score_mode"] == "recalibrate"
    table = json.loads((tmp_path / "ablation.json").read_text())["table"]
    assert [(row["dropout_rate"], row["model_seed"]) for row in table] == [(0.2, 0), (0.2, 1)]
    scores = [[a["one_shot_accuracy"][k] for a in report["archs"]] for k in (0, 1)]
    assert scores[0] != scores[1]  # the seed changed the model


@pytest.mark.parametrize("args, message", [
    (["--rates", "0,x"], "comma-separated"),
    (["--rates", "0.1,0.1"], "distinct"),
    (["--rates", "1.5"], "dropout rate 1.5 is not in [0, 1): give --rates in [0, 1)"),
])
def test_ablate_user_errors_exit_2(tmp_path, args, message):
    result = runner.invoke(app, ["ablate", "dropout", "--out", str(tmp_path / "a"), *SMALL, *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
