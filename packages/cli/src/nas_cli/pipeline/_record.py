"""The study as a record others can read: optuna-dashboard, the ``optuna`` CLI, a notebook.

Optuna freezes a trial once it is finished: ``storage.set_trial_user_attr`` on a COMPLETE trial
raises ``UpdateFinishedTrialError`` (RDB and journal storages alike), and Optuna 5.0 has no public
way to reopen one. So the stand-alone results, known only after the search, are written (with
public API only) to

- the search study's user attributes (``study.set_user_attr``): ``dataset``, ``profile``,
  ``space``, ``run_dir`` and ``one_shot_model`` after the search; ``finalists`` (each with its
  ``search_trial`` number and stand-alone figures) after the train phase; ``deployed`` after the
  export phase;
- a companion study ``<study>-standalone`` in the same storage, rebuilt after each train phase:
  one trial per finalist with the same parameters as its search trial, its stand-alone val
  accuracy (and cost) as objective values, and its figures as user attributes, so the dashboard
  shows one-shot and stand-alone results of the same architectures side by side.

Paths in the study are absolute: a storage (PostgreSQL, say) may live far from the run folder.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna

from nas_core import Architecture, get_space

from ..search import distributions, encode

SUFFIX = "-standalone"  # the companion study's name: the search study's and this


def describe_run(study: optuna.Study, *, dataset: str, profile: str, space: str, run_dir: Path) -> None:
    """The run a search belongs to, on its study."""
    run_dir = Path(run_dir).resolve()
    attrs = {"dataset": dataset, "profile": profile, "space": space, "run_dir": str(run_dir),
             "one_shot_model": str(run_dir / "supernet")}
    for key, value in attrs.items():
        study.set_user_attr(key, value)


def finalist_attrs(finalist: dict, run_dir: Path) -> dict:
    """What the study records of one finalist (an entry of the train phase's ``finalists``)."""
    one_shot = finalist["one_shot"]
    return {"search_trial": one_shot["trial"], "arch_id": one_shot["arch_id"], "arch_string": one_shot["arch_string"],
            "rank": finalist["rank"], "one_shot_accuracy": one_shot["one_shot_accuracy"],
            "standalone_val_accuracy": finalist["val_accuracy"], "standalone_test_accuracy": finalist["test_accuracy"],
            "standalone_params": finalist["params"], "standalone_flops": finalist["flops"],
            "latency_ms": finalist.get("latency_ms"),
            "standalone_dir": str((Path(run_dir) / finalist["dir"]).resolve())}


def record_finalists(study: optuna.Study, storage: optuna.storages.BaseStorage, finalists: list[dict],
                     run_dir: Path, space: str, cost: str | None) -> optuna.Study:
    """Write the finalists' stand-alone results onto ``study`` and into its companion study
    (created afresh); returns the companion."""
    records = [finalist_attrs(f, run_dir) for f in finalists]
    name = study.study_name + SUFFIX
    study.set_user_attr("finalists", records)
    study.set_user_attr("standalone_study", name)
    try:
        optuna.delete_study(study_name=name, storage=storage)
    except KeyError:
        pass
    companion = optuna.create_study(study_name=name, storage=storage,
                                    directions=["maximize"] + (["minimize"] if cost else []))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        companion.set_metric_names(["standalone_val_accuracy"] + ([cost] if cost else []))
    dists = distributions(get_space(space))
    for finalist, attrs in zip(finalists, records):
        params = encode(Architecture.from_json(finalist["one_shot"]["arch"]))
        companion.add_trial(optuna.trial.create_trial(params=params, distributions=dists,
                                                      values=_values(finalist, cost), user_attrs=attrs))
    return companion


def _values(finalist: dict, cost: str | None) -> list[float]:
    """Objective values of a finalist's stand-alone network: val accuracy, and its cost (the
    search's cost value where the stand-alone one was not measured)."""
    if cost is None:
        return [finalist["val_accuracy"]]
    measured = {"params": finalist["params"], "flops": finalist["flops"], "latency": finalist.get("latency_ms")}
    value = measured[cost] if measured[cost] is not None else finalist["one_shot"]["cost"]
    return [finalist["val_accuracy"], float(value)]


def record_deployed(study: optuna.Study, finalist: dict, pick: str, run_dir: Path) -> None:
    """Which finalist was deployed, and by which rule, on the search study."""
    study.set_user_attr("deployed", {"search_trial": finalist["one_shot"]["trial"],
                                     "arch_id": finalist["one_shot"]["arch_id"], "rank": finalist["rank"],
                                     "pick": pick, "dir": str((Path(run_dir) / "best").resolve())})
