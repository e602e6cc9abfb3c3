"""The finalists as claims on the study: `nas search --finalists` trains those nobody has
claimed, and `nas run` then trains none again."""

import json

import optuna
from typer.testing import CliRunner

from nas_cli.main import app
from nas_cli.pipeline import Pipeline, run_config
from nas_cli.search import open_storage

runner = CliRunner()


def test_finalists_trained_by_a_search_worker_are_not_trained_again(tmp_path):
    out = tmp_path / "run"
    config = run_config("smoke", device="cpu", study="claims")
    pipeline = Pipeline(out, config)
    out.mkdir()
    pipeline.train_supernet()
    pipeline.search()
    done = {"done": True, "seconds": 1.0}
    (out / "pipeline.json").write_text(json.dumps({"config": config.to_dict(),
                                                   "phases": {"supernet": {**done, "dir": "supernet"},
                                                              "search": {**done, "study": "claims"}}}))
    result = runner.invoke(app, ["search", "--run", str(out), "--finalists"])
    assert result.exit_code == 0, result.output
    assert "finalists trained here: 2 of 2" in result.output
    trained = sorted((out / "standalone").glob("*/metrics.jsonl"))
    assert len(trained) == 2
    stamps = [p.stat().st_mtime_ns for p in trained]
    result = runner.invoke(app, ["run", "--profile", "smoke", "--device", "cpu", "--study", "claims",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert [p.stat().st_mtime_ns for p in trained] == stamps  # nothing trained twice
    assert len(json.loads((out / "summary.json").read_text())["finalists"]) == 2
    storage = open_storage(f"sqlite:///{out / 'search' / 'study.db'}")
    queues = [s for s in optuna.get_all_study_summaries(storage) if "-finalists-" in s.study_name]
    assert len(queues) == 1
    claims = optuna.load_study(study_name=queues[0].study_name, storage=storage).trials
    assert sorted(t.user_attrs["rank"] for t in claims) == [1, 2]
    assert all(t.state == optuna.trial.TrialState.COMPLETE and "worker" in t.user_attrs for t in claims)
