"""`report.md` and the plots of a `nas run` directory (PNG, matplotlib's Agg backend).

- ``plots/search_history.png``: one-shot accuracy per trial and the best so far (Optuna's
  ``plot_optimization_history``);
- ``plots/accuracy_vs_cost.png``: one-shot accuracy against parameters of every scored
  architecture, finalists marked; the Pareto front (Optuna's ``plot_pareto_front``) for a
  multi-objective search;
- ``plots/training_curves.png``: training loss of the one-shot model and of each finalist;
- ``plots/oneshot_vs_standalone.png``: the finalists' one-shot accuracy against their stand-alone
  val accuracy (how well the one-shot model ranked them, Sec. 5);
- ``plots/cells.png``: the deployed architecture's normal and reduction cells (``_cells.py``).

Every path in ``report.md`` is relative to the run folder.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import optuna

from nas_core import Architecture
from nas_core.train import atomic_write_text

from .._plots import pyplot, save
from ._cells import op_code_table, plot_cells


def write_report(out: Path, summary: dict, study: optuna.Study) -> list[Path]:
    """Write the plots (where matplotlib is installed) and ``report.md``; returns the plots."""
    try:
        plots = _plots(out, summary, study)
    except ImportError:
        plots = []
    atomic_write_text(out / "report.md", _markdown(summary, [p.relative_to(out) for p in plots]))
    return plots


def _plots(out: Path, summary: dict, study: optuna.Study) -> list[Path]:
    plt = pyplot()
    folder = out / "plots"
    folder.mkdir(exist_ok=True)
    multi = len(study.directions) > 1
    paths = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optuna marks its matplotlib backend experimental
        target = (lambda t: t.values[0]) if multi else None
        ax = optuna.visualization.matplotlib.plot_optimization_history(
            study, target=target, target_name="one-shot accuracy")
        paths += save(ax.figure, folder / "search_history.png")
        if multi:
            ax = optuna.visualization.matplotlib.plot_pareto_front(
                study, target_names=["one-shot accuracy", summary["cost"] or "params"])
            paths += save(ax.figure, folder / "pareto_front.png")
    paths += _accuracy_vs_cost(study, summary, folder / "accuracy_vs_cost.png", plt)
    paths += _training_curves(out, summary, folder / "training_curves.png", plt)
    paths += _oneshot_vs_standalone(summary, folder / "oneshot_vs_standalone.png", plt)
    paths += plot_cells(Architecture.from_json(summary["best"]["arch"]), folder / "cells.png")
    return paths


def _accuracy_vs_cost(study, summary: dict, path: Path, plt) -> list[Path]:
    # Complete trials only: one killed while it was scored failed with a part of its figures.
    trials = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
              if {"params", "one_shot_accuracy"} <= t.user_attrs.keys()]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([t.user_attrs["params"] for t in trials], [t.user_attrs["one_shot_accuracy"] for t in trials],
               s=12, alpha=0.6, label="scored architectures")
    finalists = summary["finalists"]
    ax.scatter([f["params"] for f in finalists], [f["one_shot"]["one_shot_accuracy"] for f in finalists],
               s=40, marker="*", color="C3", label="trained from scratch")
    ax.set_xlabel("parameters (stand-alone network)")
    ax.set_ylabel("one-shot accuracy")
    ax.set_title("one-shot accuracy vs size")
    ax.legend()
    return save(fig, path)


def _curve(metrics: Path) -> tuple[list[int], list[float]]:
    if not metrics.exists():
        return [], []
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    return [r["step"] for r in rows], [r["loss"] for r in rows]


def _training_curves(out: Path, summary: dict, path: Path, plt) -> list[Path]:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].plot(*_curve(out / "supernet" / "metrics.jsonl"))
    axes[0].set_title("one-shot model (with path dropout)")
    for f in summary["finalists"]:
        axes[1].plot(*_curve(out / f["dir"] / "metrics.jsonl"), label=f"#{f['rank']} {Path(f['dir']).name}")
    axes[1].set_title("finalists, from scratch")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("step")
        ax.set_ylabel("training loss")
    return save(fig, path)


def _oneshot_vs_standalone(summary: dict, path: Path, plt) -> list[Path]:
    finalists = summary["finalists"]
    fig, ax = plt.subplots(figsize=(5, 4))
    x = [f["one_shot"]["one_shot_accuracy"] for f in finalists]
    y = [f["val_accuracy"] for f in finalists]
    ax.scatter(x, y, s=30, color="C0")
    for f, xi, yi in zip(finalists, x, y):
        ax.annotate(f"#{f['rank']}" + (" deployed" if f.get("deployed") else ""), (xi, yi),
                    textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.margins(0.2)
    ax.locator_params(nbins=5)
    ax.set_xlabel("one-shot accuracy (val split)")
    ax.set_ylabel("stand-alone val accuracy")
    ax.set_title("finalists: one-shot vs stand-alone")
    return save(fig, path)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def finalist_table(finalists: list[dict], deployed_rank: int) -> tuple[list[str], list[list[str]]]:
    """The finalists' one-shot, stand-alone and deployment figures as a header and rows of text
    (with a cost objective: the Pareto table; ``front`` 1 is the Pareto front)."""
    fronts = any("front" in f["one_shot"] for f in finalists)
    header = ["rank", "architecture", *(["front"] if fronts else []), "one-shot acc", "val acc", "test acc",
              "params", "FLOPs", "ORT p50 ms", "deployed"]
    rows = []
    for f in finalists:
        latency, front = f.get("latency_ms"), [str(f["one_shot"].get("front", "-"))] if fronts else []
        rows.append([str(f["rank"]), f["one_shot"]["arch_id"], *front,
                     _pct(f["one_shot"]["one_shot_accuracy"]), _pct(f["val_accuracy"]), _pct(f["test_accuracy"]),
                     f"{f['params']:,}", f"{f['flops']:,}", "-" if latency is None else f"{latency:.3f}",
                     "yes" if f["rank"] == deployed_rank else ""])
    return header, rows


def _markdown(summary: dict, plots: list[Path]) -> str:
    best = summary["best"]
    lines = [
        f"# nas run: {summary['dataset']} ({summary['profile']} profile)", "",
        f"Search space `{summary['space']}`, sampler `{summary['sampler']}`, {summary['trials']} trials"
        + (f" (cost objective: {summary['cost']})" if summary.get("cost") else "")
        + f", top {summary['top_k']} trained from scratch, device `{summary['device']}`.", "",
        *_warnings(summary),
        "## Best architecture", "",
        f"`{best['arch_id']}` `{best['arch_string']}`", "",
        f"Deployed: finalist #{best['rank']}, chosen by the pick rule `{summary['pick']}` (`best/`).", "",
        "| one-shot acc | val acc | test acc | params | FLOPs |", "| --- | --- | --- | --- | --- |",
        f"| {_pct(best['one_shot_accuracy'])} | {_pct(best['val_accuracy'])} | {_pct(best['test_accuracy'])} "
        f"| {best['params']:,} | {best['flops']:,} |", "",
        *_cells(plots),
        *_finalists(summary),
        *_deployment(summary["onnx"]),
        "## Time per phase", "", "| phase | seconds |", "| --- | --- |",
        *[f"| {k} | {v:.1f} |" for k, v in summary["seconds"].items() if v is not None],
        "", "## Plots", "",
        *[f"![{p.stem}]({p.as_posix()})" for p in plots if p.stem != "cells"],
    ]
    return "\n".join(lines) + "\n"


def _warnings(summary: dict) -> list[str]:
    warnings_ = summary.get("warnings") or []
    return ["## Warnings", "", *[f"- {w}" for w in warnings_], ""] if warnings_ else []


def _cells(plots: list[Path]) -> list[str]:
    pictures = [p for p in plots if p.stem == "cells"]
    if not pictures:
        return []
    return ["### Its cells", "", f"![cells]({pictures[0].as_posix()})", "",
            "Each block sums its inputs (0: the cell two back, 1: the previous cell, 2 + j: block j), applies "
            "each of its ops to the sum and adds the results; the cell concatenates its blocks. The op codes "
            "of the architecture string:", "", *op_code_table(), ""]


def _finalists(summary: dict) -> list[str]:
    header, rows = finalist_table(summary["finalists"], summary["best"]["rank"])
    latency = summary.get("latency") or {}
    if summary.get("pareto"):
        title = f"## Finalists: the Pareto front (one-shot accuracy vs {summary['cost']})"
        how = ("The finalists come from the Pareto front of the search (front 1; spread evenly along it when it "
               "holds more than the finalists, the most accurate always kept), filled from the next fronts.")
    else:
        title, how = "## Finalists", "The finalists are the best architectures by one-shot accuracy."
    lines = [title, "", how + " Each was trained from scratch. ORT p50: onnxruntime median latency at batch "
             f"{latency.get('batch', 1)} on the CPU with {latency.get('threads', 1)} thread, "
             f"{latency.get('repeats', '?')} runs after {latency.get('warmup', '?')} warm-up runs.", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def _deployment(onnx: dict | None) -> list[str]:
    if not onnx:
        return ["## Deployment", "", "No ONNX file (nas-export is not installed).", ""]
    return ["## Deployment", "",
            f"ONNX: `{onnx['path']}` (opset {onnx['opset']}, {onnx['bytes'] / 1024:,.0f} KiB). "
            f"Against PyTorch on {onnx['parity_data']}: top-1 agreement {_pct(onnx['top1_agreement'])}, "
            f"max abs logit difference {onnx['max_abs_diff']:.2e}; onnxruntime latency at batch 1 "
            f"{onnx['latency_ms_batch1']:.2f} ms (onnxruntime's default threads).", ""]
