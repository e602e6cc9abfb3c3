"""Scatter plots of a correlation study (PNG and SVG, matplotlib's Agg backend), as Fig. 3-5 of
Bender et al. 2018: one panel per one-shot model, Kendall's tau in its title.

- ``plots/correlation.{png,svg}``: one-shot accuracy (x) against stand-alone accuracy (y) of the
  sampled architectures; the search's pick (the pool's one-shot top-1) is marked;
- ``plots/kl.{png,svg}``: KL divergence to the all-paths model (x, log scale) against
  stand-alone accuracy (Sec. 5).
"""

from __future__ import annotations

from pathlib import Path

from .._plots import pyplot, save


def write_plots(out: Path, report: dict) -> list[Path]:
    plt = pyplot()
    folder = out / "plots"
    folder.mkdir(exist_ok=True)
    return [*_figure(plt, report, folder / "correlation", "one_shot_accuracy", "one-shot accuracy"),
            *_figure(plt, report, folder / "kl", "kl_to_full_model", "symmetric KL to the all-paths model")]


def _figure(plt, report: dict, stem: Path, key: str, xlabel: str) -> list[Path]:
    models = report["models"]
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 4), squeeze=False)
    y = [a["standalone_accuracy"] for a in report["archs"]]
    figures = "one_shot_vs_standalone" if key == "one_shot_accuracy" else "kl_vs_standalone"
    for k, (ax, model) in enumerate(zip(axes[0], models)):
        x = [a[key][k] for a in report["archs"]]
        ax.scatter(x, y, s=18, alpha=0.8, label="sampled architectures")
        if key == "one_shot_accuracy":
            top = model["top1"]
            ax.scatter([top["one_shot_accuracy"]], [top["standalone_accuracy"]], marker="*", s=140,
                       color="tab:red", label="one-shot top-1 of the pool")
            ax.legend(fontsize=7, loc="lower right")
        else:
            ax.set_xscale("log")
        tau = model[figures]["kendall_tau"]
        ax.set_title(f"{model['label']}\nτ = {tau['value']:.2f} [{tau['low']:.2f}, {tau['high']:.2f}]",
                     fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel("stand-alone val accuracy", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    return save(fig, stem.with_suffix(".png"), stem.with_suffix(".svg"), dpi=120)
