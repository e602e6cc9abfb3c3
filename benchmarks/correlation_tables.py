"""Markdown tables of a `nas ablate dropout` / `nas correlate` output folder, as in docs/results.md.

    python benchmarks/correlation_tables.py runs/fmnist-ablation [more folders...]

Reads ``correlation.json`` (and ``ablation.json`` where present) and prints, per folder: one row
per one-shot model (tau, rho, top-k precision with 95% intervals, KL tau, one-shot spread, the
pick), the per-rate means of an ablation, and the stand-alone accuracy distribution of the sample.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def _ci(e: dict) -> str:
    return f"{e['value']:.2f} [{e['low']:.2f}, {e['high']:.2f}]"


def models_table(report: dict) -> str:
    rows = ["| one-shot model | Kendall τ [95% CI] | Spearman ρ [95% CI] | top-10% precision | KL τ [95% CI] "
            "| one-shot acc. of the pool: min / median / max (std) | pick: stand-alone acc. (percentile) |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for m in report["models"]:
        c, s, top = m["one_shot_vs_standalone"], m["one_shot_spread"]["pool"], m["top1"]
        rows.append(f"| {m['label']} | {_ci(c['kendall_tau'])} | {_ci(c['spearman_rho'])} | "
                    f"{_ci(c['top_k_precision'])} (chance {c['top_k_precision']['chance']:.2f}) | "
                    f"{_ci(m['kl_vs_standalone']['kendall_tau'])} | "
                    f"{s['min']:.3f} / {s['median']:.3f} / {s['max']:.3f} ({s['std']:.3f}) | "
                    f"{top['standalone_accuracy']:.3f} ({top['percentile']:.0f}%) |")
    return "\n".join(rows)


def by_rate_table(ablation: dict) -> str:
    rows = ["| r | model seeds | mean τ | mean ρ | mean std of one-shot acc. | mean stand-alone acc. of the pick |",
            "| --- | --- | --- | --- | --- | --- |"]
    for r in ablation["by_rate"]:
        rows.append(f"| {r['dropout_rate']:g} | {r['model_seeds']} | {r['kendall_tau']:.2f} | "
                    f"{r['spearman_rho']:.2f} | {r['one_shot_std']:.3f} | {r['top1_standalone_accuracy']:.3f} |")
    return "\n".join(rows)


def sample_line(report: dict) -> str:
    acc = [a["standalone_accuracy"] for a in report["archs"]]
    q = statistics.quantiles(acc, n=4)
    line = (f"Stand-alone val accuracy of the {len(acc)} sampled architectures: min {min(acc):.3f}, "
            f"quartiles {q[0]:.3f} / {q[1]:.3f} / {q[2]:.3f}, max {max(acc):.3f}.")
    if report.get("seed_noise"):
        noise = report["seed_noise"]
        line += f" Mean std between stand-alone seeds: {noise['mean_std_between_seeds']:.4f}."
        if "seed_vs_seed" in noise:
            tau = noise["seed_vs_seed"]["kendall_tau"]
            line += (f" Kendall τ between the first and second stand-alone training of each: "
                     f"{tau['value']:.2f} [{tau['low']:.2f}, {tau['high']:.2f}].")
    return line


def main() -> None:
    for folder in map(Path, sys.argv[1:]):
        report = json.loads((folder / "correlation.json").read_text())
        print(f"### {folder.name}\n\n{models_table(report)}\n\n{sample_line(report)}\n")
        if (folder / "ablation.json").exists():
            print(by_rate_table(json.loads((folder / "ablation.json").read_text())) + "\n")


if __name__ == "__main__":
    main()
