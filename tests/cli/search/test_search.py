"""The search module: studies with exactly N trials, resume, workers, cache, errors."""

import json

import optuna
import pytest

from nas_cli.search import SearchConfig, StudyError, best_architectures, run_search
from nas_core.data import DataSpec, load_data
from nas_core.train import SupernetConfig, train_supernet

optuna.logging.set_verbosity(optuna.logging.WARNING)
DATA = DataSpec("synthetic", subsets={"train": 320, "val": 60}, image_size=12)


@pytest.fixture(scope="module")
def supernet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("supernet")
    config = SupernetConfig(space="tiny", width=4, cells_per_stack=1, steps=4, batch_size=32, ghost_batch=16,
                            log_every=2, checkpoint_every=4, device="cpu")
    train_supernet(config, load_data("synthetic", "train", image_size=12, subset=320), folder)
    return folder


def search(run_dir, supernet, **changes):
    config = SearchConfig(**{"trials": 4, "device": "cpu", "batch_size": 60, **changes})
    return run_search(run_dir, supernet, DATA, config)


def complete(study):
    return [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]


def test_trials_store_the_architecture_and_its_figures(tmp_path, supernet):
    study = search(tmp_path, supernet)
    trials = complete(study)
    assert len(trials) == 4 == len(study.trials)
    attrs = trials[0].user_attrs
    assert {"arch", "arch_id", "one_shot_accuracy", "params", "flops"} <= set(attrs)
    assert attrs["one_shot_accuracy"] == trials[0].values[0]
    assert (tmp_path / "study.db").exists()


def test_rerun_continues_to_exactly_n_trials(tmp_path, supernet):
    search(tmp_path, supernet, trials=3)
    study = search(tmp_path, supernet, trials=5)
    assert len(study.trials) == 5 and len(complete(study)) == 5
    study = search(tmp_path, supernet, trials=5)  # nothing left to do
    assert len(study.trials) == 5


def test_stale_running_trials_are_redone(tmp_path, supernet):
    study = search(tmp_path, supernet, trials=2)
    study.ask()  # a trial left RUNNING, as by a crash
    study = search(tmp_path, supernet, trials=3)
    assert len(complete(study)) == 3


def exactly_n(study, n):
    """The contract of any number of workers: n COMPLETE trials, one per slot 0..n-1; anything
    else is a trial taken for dead (heartbeats late, e.g. on a loaded machine) whose slot a retry
    completed."""
    done = complete(study)
    assert sorted(t.user_attrs["slot"] for t in done) == list(range(n))
    others = [t for t in study.trials if t.state != optuna.trial.TrialState.COMPLETE]
    assert all(t.state == optuna.trial.TrialState.FAIL for t in others)
    retried = {t.system_attrs.get("failed_trial") for t in done}
    assert all(t.number in retried or t.system_attrs.get("retry_history") for t in others)


def test_two_workers_give_exactly_n_trials(tmp_path, supernet):
    study = search(tmp_path, supernet, trials=6, workers=2)
    exactly_n(study, 6)


def test_the_cache_prevents_rescoring(tmp_path, supernet):
    study = search(tmp_path, supernet, trials=6)
    ids = {t.user_attrs["arch_id"] for t in complete(study)}
    lines = (tmp_path / "scores.jsonl").read_text().splitlines()
    assert len(lines) == len(ids)  # each distinct architecture scored once
    again = search(tmp_path / "other", supernet, trials=2, storage=f"sqlite:///{tmp_path / 'b.db'}")
    assert len(complete(again)) == 2


def test_multi_objective_search_and_best_architectures(tmp_path, supernet):
    study = search(tmp_path, supernet, sampler="nsga2", trials=4)
    assert len(study.directions) == 2
    assert all(t.values[1] == t.user_attrs["params"] for t in complete(study))
    best = best_architectures(study, 2)
    accs = [f["one_shot_accuracy"] for _, f in best]
    assert accs == sorted(accs, reverse=True) and len({a.id for a, _ in best}) == len(best)


def test_latency_cost_is_measured(tmp_path, supernet):
    study = search(tmp_path, supernet, sampler="motpe", cost="latency", trials=2)
    assert all(t.user_attrs["latency_ms"] > 0 for t in complete(study))


def test_errors(tmp_path, supernet):
    search(tmp_path, supernet, trials=2)
    with pytest.raises(StudyError, match=r"study 'oneshot' made with other settings \(directions \['maximize'\], not "):
        search(tmp_path, supernet, trials=3, cost="params")
    with pytest.raises(StudyError, match="cannot open study storage"):
        search(tmp_path / "x", supernet, storage="nosuchdb://foo")
    for bad in ({"sampler": "nope"}, {"trials": 0}, {"cost": "nope"}, {"score_images": 0}):
        with pytest.raises(ValueError):
            SearchConfig(**bad)


def test_trials_can_be_scored_on_part_of_the_val_split_and_keep_to_it(tmp_path, supernet):
    study = search(tmp_path, supernet, trials=3, score_images=20)
    accuracies = [t.values[0] for t in complete(study)]
    assert all(abs(a * 20 - round(a * 20)) < 1e-9 for a in accuracies)  # 20 images: steps of 1/20
    assert study.user_attrs["scoring"] == "batch-stats on 20 val images"
    with pytest.raises(StudyError, match="scoring"):  # a study's scores all mean the same
        search(tmp_path, supernet, trials=4)


def test_scores_file_is_json_lines(tmp_path, supernet):
    search(tmp_path, supernet, trials=2)
    for line in (tmp_path / "scores.jsonl").read_text().splitlines():
        assert json.loads(line)["mode"] == "batch-stats"
