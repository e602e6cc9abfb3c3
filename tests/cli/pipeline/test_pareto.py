"""Multi-objective `nas run`: Pareto finalists, the pick rule that deploys one, the study as a
record (user attributes), the cell picture, and report paths that do not depend on the cwd."""

import json
import os
import struct

import optuna
import pytest
import torch
from typer.testing import CliRunner

from nas_cli.main import app
from nas_cli.pipeline._cells import op_code_table, plot_cells
from nas_cli.pipeline._pick import PickRule, parse_pick, pick_finalist
from nas_cli.search import SAMPLERS, best_architectures, budget_warning, pareto_finalists, pareto_fronts
from nas_core import get_space, measure_latency
from nas_core.errors import InputError
from nas_core.space import OP_CODES

optuna.logging.set_verbosity(optuna.logging.WARNING)
runner = CliRunner()
ARGS = ["run", "--profile", "smoke", "--device", "cpu", "--sampler", "nsga2", "--cost", "params", "--top", "2"]
PICK = "smallest-within:50%"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One multi-objective smoke run, started from another working directory with a relative --out."""
    cwd = tmp_path_factory.mktemp("cwd")
    before = os.getcwd()
    os.chdir(cwd)
    try:
        result = runner.invoke(app, [*ARGS, "--pick", PICK, "--out", "run"])
    finally:
        os.chdir(before)
    assert result.exit_code == 0, result.output
    out = cwd / "run"
    return out, json.loads((out / "summary.json").read_text()), result.output


def storage(out):
    return f"sqlite:///{out / 'search' / 'study.db'}"


# -- the multi-objective run ----------------------------------------------------------------------


def test_the_deployed_model_is_the_one_the_rule_chooses(run):
    out, summary, _ = run
    finalists = summary["finalists"]
    best_val = max(f["val_accuracy"] for f in finalists)
    within = [f for f in finalists if f["val_accuracy"] >= best_val - 0.5]
    expected = min(within, key=lambda f: (f["params"], -f["val_accuracy"], f["rank"]))
    assert summary["pick"] == PICK
    assert summary["best"]["arch_id"] == expected["one_shot"]["arch_id"]
    assert [f["deployed"] for f in finalists].count(True) == 1 and expected["deployed"]
    assert json.loads((out / "best" / "result.json").read_text())["arch_id"] == expected["one_shot"]["arch_id"]


def test_finalists_are_the_pareto_front_with_their_latency(run):
    out, summary, output = run
    study = optuna.load_study(study_name=summary["study"], storage=storage(out))
    points = {t.user_attrs["arch_id"]: (t.values[0], t.values[1]) for t in study.trials}
    front = {a for a, (acc, cost) in points.items()
             if not any(o[0] >= acc and o[1] <= cost and o != (acc, cost) for o in points.values())}
    chosen = {f["one_shot"]["arch_id"]: f["one_shot"]["front"] for f in summary["finalists"]}
    assert summary["pareto"] and summary["cost"] == "params"
    assert {a for a, n in chosen.items() if n == 1} <= front
    if len(front) >= 2:  # two finalists, both from the front, its most accurate among them
        assert set(chosen.values()) == {1} and max(front, key=lambda a: points[a][0]) in chosen
    else:  # the front, then the next front
        assert front <= set(chosen) and sorted(chosen.values()) == [1, 2]
    assert all(f["latency_ms"] > 0 for f in summary["finalists"])
    assert summary["latency"]["threads"] == 1 and summary["latency"]["statistic"] == "median"
    assert "finalists (deployed: #" in output and "ORT p50 ms" in output


def test_report_has_the_pareto_table_and_the_warning(run):
    out, summary, output = run
    report = (out / "report.md").read_text()
    table = report.split("## Finalists: the Pareto front (one-shot accuracy vs params)")[1].split("##")[0]
    assert "| rank | architecture | front | one-shot acc | val acc | test acc | params | FLOPs | ORT p50 ms |" in table
    for f in summary["finalists"]:
        assert f"| {f['rank']} | {f['one_shot']['arch_id']} | " in table and f"{f['latency_ms']:.3f}" in table
    assert f"chosen by the pick rule `{PICK}`" in report
    assert "nsga2 draws 50 trials at random" in report and "nsga2 draws 50 trials at random" in output
    assert summary["warnings"] == [w for w in summary["warnings"] if "nsga2" in w] != []
    assert "![oneshot_vs_standalone](plots/oneshot_vs_standalone.png)" in report


def test_the_study_records_the_run_and_the_standalone_results(run):
    out, summary, _ = run
    study = optuna.load_study(study_name=summary["study"], storage=storage(out))
    attrs = study.user_attrs
    assert attrs["dataset"] == "synthetic" and attrs["profile"] == "smoke" and attrs["space"] == "tiny"
    assert attrs["one_shot_model"] == str((out / "supernet").resolve())
    assert attrs["deployed"]["arch_id"] == summary["best"]["arch_id"] and attrs["deployed"]["pick"] == PICK
    companion = optuna.load_study(study_name=attrs["standalone_study"], storage=storage(out))
    by_arch = {t.user_attrs["arch_id"]: t for t in companion.trials}
    for f in summary["finalists"]:
        trial = by_arch[f["one_shot"]["arch_id"]]
        assert trial.user_attrs["standalone_val_accuracy"] == f["val_accuracy"] == trial.values[0]
        assert trial.user_attrs["standalone_test_accuracy"] == f["test_accuracy"]
        assert trial.user_attrs["standalone_params"] == f["params"] == trial.values[1]
        assert trial.user_attrs["standalone_dir"] == str((out / f["dir"]).resolve())
        searched = study.trials[trial.user_attrs["search_trial"]]
        assert searched.user_attrs["arch_id"] == f["one_shot"]["arch_id"] and trial.params == searched.params
    assert [r["arch_id"] for r in attrs["finalists"]] == [f["one_shot"]["arch_id"] for f in summary["finalists"]]


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_cell_picture_is_a_png_in_the_report(run):
    out, _, _ = run
    width, height = png_size(out / "plots" / "cells.png")
    assert width > 300 and height > 300
    report = (out / "report.md").read_text()
    assert "![cells](plots/cells.png)" in report
    for name, code in OP_CODES.items():
        assert f"| `{code}` | `{name}` |" in report
    assert png_size(out / "plots" / "oneshot_vs_standalone.png")[0] > 100


def test_paths_are_relative_to_the_run_folder(run):
    out, summary, _ = run
    paths = [summary["best"]["dir"], summary["onnx"]["path"], *[f["dir"] for f in summary["finalists"]]]
    assert summary["best"]["dir"] == "best" and summary["onnx"]["path"] == "best/model.onnx"
    assert all(not os.path.isabs(p) and (out / p).exists() for p in paths)
    assert all(f["dir"].startswith("standalone/") for f in summary["finalists"])
    assert summary["run_dir"] == str(out.resolve())
    for link in (line.split("](")[1][:-1] for line in (out / "report.md").read_text().splitlines()
                 if line.startswith("![")):
        assert (out / link).exists()


def test_the_report_from_another_cwd_has_the_same_paths(run, tmp_path, monkeypatch):
    out, summary, _ = run
    state = json.loads((out / "pipeline.json").read_text())
    del state["phases"]["report"]
    (out / "pipeline.json").write_text(json.dumps(state))
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [*ARGS, "--pick", PICK, "--out", str(out.resolve())])
    assert result.exit_code == 0, result.output
    again = json.loads((out / "summary.json").read_text())
    assert {k: v for k, v in again.items() if k != "seconds"} == {k: v for k, v in summary.items() if k != "seconds"}


def test_another_pick_redoes_export_and_report_only(run):
    out, summary, _ = run
    result = runner.invoke(app, [*ARGS, "--pick", "accuracy", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.count("done before, skipped") == 3
    again = json.loads((out / "summary.json").read_text())
    best = max(again["finalists"], key=lambda f: (f["val_accuracy"], -f["rank"]))
    assert again["pick"] == "accuracy" and again["best"]["arch_id"] == best["one_shot"]["arch_id"]
    assert again["finalists"][0]["latency_ms"] == summary["finalists"][0]["latency_ms"]  # measured once


def test_no_finalist_within_the_latency_exits_2(run):
    out, _, _ = run
    result = runner.invoke(app, [*ARGS, "--pick", "max-latency-ms:0.00001", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "no finalist runs within 1e-05 ms on onnxruntime" in result.output
    assert "--pick" in result.output and "Traceback" not in result.output


# -- the Pareto selection on a synthetic study ----------------------------------------------------


def synthetic_study(points, directions=("maximize", "minimize")):
    """A study whose trials are distinct tiny-space architectures with the given (accuracy, cost)."""
    study = optuna.create_study(directions=list(directions))
    space = get_space("tiny")
    for i, (acc, cost) in enumerate(points):
        arch = space.sample(torch.Generator().manual_seed(i))
        attrs = {"arch": arch.to_json(), "arch_id": f"a{i}", "one_shot_accuracy": acc, "params": int(cost)}
        values = [acc, cost] if len(directions) > 1 else [acc]
        study.add_trial(optuna.trial.create_trial(values=values, user_attrs=attrs))
    return study


# a0..a4 are the Pareto front (cost up, accuracy up); a5, a6 the second front; a7 the third
POINTS = [(0.50, 10), (0.60, 20), (0.70, 30), (0.80, 40), (0.90, 50), (0.55, 25), (0.85, 60), (0.52, 30)]


def ids(chosen):
    return sorted(figures["arch_id"] for _, figures in chosen)


def test_pareto_fronts_peel_in_order():
    fronts = [[p["arch_id"] for p in f] for f in pareto_fronts(
        [{"arch_id": f"a{i}", "one_shot_accuracy": a, "cost": c} for i, (a, c) in enumerate(POINTS)])]
    assert fronts == [["a0", "a1", "a2", "a3", "a4"], ["a5", "a6"], ["a7"]]


def test_a_large_front_is_spread_and_keeps_the_most_accurate():
    assert ids(best_architectures(synthetic_study(POINTS), 3)) == ["a0", "a2", "a4"]
    assert ids(best_architectures(synthetic_study(POINTS), 1)) == ["a4"]
    chosen = best_architectures(synthetic_study(POINTS), 2)
    assert ids(chosen) == ["a0", "a4"] and chosen[0][1]["arch_id"] == "a4"  # best one-shot accuracy first


def test_a_small_front_is_filled_from_the_next_ones():
    chosen = best_architectures(synthetic_study(POINTS), 6)
    assert ids(chosen) == ["a0", "a1", "a2", "a3", "a4", "a6"]  # a6 is the more accurate of front 2
    assert {f["arch_id"]: f["front"] for _, f in chosen}["a6"] == 2
    assert ids(best_architectures(synthetic_study(POINTS), 8)) == sorted(f"a{i}" for i in range(8))


def test_one_objective_keeps_the_top_k_by_one_shot_accuracy():
    study = synthetic_study(POINTS, directions=("maximize",))
    assert ids(best_architectures(study, 3)) == ["a3", "a4", "a6"]


def test_pareto_finalists_with_ties():
    points = [{"arch_id": a, "one_shot_accuracy": acc, "cost": 1} for a, acc in (("x", 0.5), ("y", 0.5), ("z", 0.4))]
    assert sorted(p["arch_id"] for p in pareto_finalists(points, 2)) == ["x", "y"]  # equal: neither dominates


# -- pick rules -----------------------------------------------------------------------------------

FINALISTS = [
    {"rank": 1, "val_accuracy": 0.90, "params": 9000, "latency_ms": 3.0},
    {"rank": 2, "val_accuracy": 0.92, "params": 7000, "latency_ms": 2.5},
    {"rank": 3, "val_accuracy": 0.915, "params": 4000, "latency_ms": 1.0},
    {"rank": 4, "val_accuracy": 0.80, "params": 1000, "latency_ms": 0.5},
]


@pytest.mark.parametrize("rule, rank", [
    ("accuracy", 2),
    ("smallest-within:0.5%", 3),
    ("smallest-within:0%", 2),
    ("smallest-within:20%", 4),
    ("max-latency-ms:2", 3),
    ("max-latency-ms:0.5", 4),
    ("max-latency-ms:100", 2),
])
def test_pick_rules(rule, rank):
    assert pick_finalist(FINALISTS, parse_pick(rule))["rank"] == rank


def test_ties_go_to_the_better_one_shot_rank():
    tied = [{"rank": 2, "val_accuracy": 0.9, "params": 10}, {"rank": 1, "val_accuracy": 0.9, "params": 10}]
    assert pick_finalist(tied, PickRule("accuracy"))["rank"] == 1
    assert pick_finalist(tied, PickRule("smallest-within", 0.0))["rank"] == 1


def test_no_finalist_within_the_latency_is_an_input_error():
    with pytest.raises(InputError, match=r"no finalist runs within 0.1 ms on onnxruntime \(the fastest, #4"):
        pick_finalist(FINALISTS, parse_pick("max-latency-ms:0.1"))
    unmeasured = [{**f, "latency_ms": None} for f in FINALISTS]
    with pytest.raises(InputError, match="none was measured"):
        pick_finalist(unmeasured, parse_pick("max-latency-ms:5"))


# -- the budget warning, the latency measure, the picture on its own ---------------------------------


def test_budget_warning_knows_each_samplers_population():
    assert "draws 50 trials at random" in budget_warning("nsga2", 30)
    assert budget_warning("nsga2", 51) is None and budget_warning("random", 1) is None
    assert "draws 10 trials at random" in budget_warning("tpe", 10) and budget_warning("tpe", 11) is None
    for name, entry in SAMPLERS.items():  # every sampler states its population, and it is the one built
        sampler = entry.build(0)
        built = getattr(sampler, "_population_size", None) or getattr(sampler, "_n_startup_trials", 0)
        assert built == entry.population, name


def test_measure_latency_restores_the_threads():
    before = torch.get_num_threads()
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU())
    assert measure_latency(net, (1, 12, 12), repeats=5, warmup=2) > 0
    assert torch.get_num_threads() == before and net.training


def test_the_picture_of_a_full_size_architecture(tmp_path):
    arch = get_space("bender2018").sample(torch.Generator().manual_seed(3))
    (path,) = plot_cells(arch, tmp_path / "cells.png")
    assert png_size(path)[0] > 500
    assert len(op_code_table()) == 2 + len(OP_CODES)


def test_latency_is_measured_only_where_it_decides_something():
    from nas_cli.pipeline import Pipeline, run_config

    def needs(**options):
        return Pipeline("unused", run_config("smoke", **options)).needs_latency

    assert not needs()  # one objective, accuracy pick: no ONNX export per finalist
    assert needs(cost="params") and needs(sampler="nsga2") and needs(pick="max-latency-ms:2")
