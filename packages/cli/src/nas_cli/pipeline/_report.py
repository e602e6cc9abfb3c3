"""`report.md` and the plots of a `nas run` directory (PNG, matplotlib's Agg backend).

- ``plots/search_history.png``: one-shot accuracy per trial and the best so far (Optuna's
  ``plot_optimization_history``);
- ``plots/accuracy_vs_cost.png``: one-shot accuracy against parameters of every scored
  architecture, finalists marked; the Pareto front (Optuna's ``plot_pareto_front``) for a
  multi-objective search;
- ``plots/training_curves.png``: training loss of the one-shot model and of each finalist.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import optuna

from nas_core.train import atomic_write_text

from .._plots import pyplot, save


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
    return paths


def _accuracy_vs_cost(study, summary: dict, path: Path, plt) -> list[Path]:
    trials = [t for t in study.get_trials(deepcopy=False) if "one_shot_accuracy" in t.user_attrs]
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
        axes[1].plot(*_curve(Path(f["dir"]) / "metrics.jsonl"), label=f"#{f['rank']} {Path(f['dir']).name}")
    axes[1].set_title("finalists, from scratch")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("step")
        ax.set_ylabel("training loss")
    return save(fig, path)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _markdown(summary: dict, plots: list[Path]) -> str:
    best, onnx = summary["best"], summary["onnx"]
    lines = [
        f"# nas run: {summary['dataset']} ({summary['profile']} profile)", "",
        f"Search space `{summary['space']}`, sampler `{summary['sampler']}`, {summary['trials']} trials, "
        f"top {summary['top_k']} trained from scratch, device `{summary['device']}`.", "",
        "## Best architecture", "",
        f"`{best['arch_id']}` `{best['arch_string']}`", "",
        "| one-shot acc | val acc | test acc | params | FLOPs |", "| --- | --- | --- | --- | --- |",
        f"| {_pct(best['one_shot_accuracy'])} | {_pct(best['val_accuracy'])} | {_pct(best['test_accuracy'])} "
        f"| {best['params']:,} | {best['flops']:,} |", "",
        "## Finalists", "",
        "| rank | architecture | one-shot acc | val acc | test acc | params |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for f in summary["finalists"]:
        lines.append(f"| {f['rank']} | `{f['one_shot']['arch_id']}` | {_pct(f['one_shot']['one_shot_accuracy'])} "
                     f"| {_pct(f['val_accuracy'])} | {_pct(f['test_accuracy'])} | {f['params']:,} |")
    lines += ["", "## Deployment", ""]
    if onnx:
        lines.append(f"ONNX: `{onnx['path']}` (opset {onnx['opset']}, {onnx['bytes'] / 1024:,.0f} KiB). "
                     f"Against PyTorch on {onnx['parity_data']}: top-1 agreement {_pct(onnx['top1_agreement'])}, "
                     f"max abs logit difference {onnx['max_abs_diff']:.2e}; onnxruntime latency at batch 1 "
                     f"{onnx['latency_ms_batch1']:.2f} ms.")
    else:
        lines.append("No ONNX file (nas-export is not installed).")
    lines += ["", "## Time per phase", "", "| phase | seconds |", "| --- | --- |"]
    lines += [f"| {k} | {v:.1f} |" for k, v in summary["seconds"].items() if v is not None]
    lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.as_posix()})" for p in plots]
    return "\n".join(lines) + "\n"
