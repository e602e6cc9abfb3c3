"""The path-dropout ablation (Bender et al. 2018, Sec. 4.2, Fig. 4): how the final dropout rate r
of the one-shot model changes how well its accuracies rank architectures.

One one-shot model per rate and model seed (``OUT/supernets/r<rate>-s<seed>``), every other
setting the same (the data split too: the model seed changes only weights, data order,
augmentation and dropout masks); then one correlation study (``_study.py``) compares them all
against one shared set of stand-alone results. ``ablation.json`` holds, per rate, the spread of one-shot accuracies and
the rank correlations with their confidence intervals.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

from nas_core.data import DataSpec
from nas_core.errors import InputError
from nas_core.train import (
    StandaloneConfig,
    SupernetConfig,
    atomic_write_json,
    guard_settings,
    latest_checkpoint,
    read_state,
    train_supernet,
)

from ._study import CorrelateConfig, CorrelateUI, OneShotModelSpec, run_correlation


class AblationUI(CorrelateUI):
    def supernet(self, rate: float, seed: int) -> list:
        """Callbacks for training the one-shot model with final dropout rate ``rate``."""
        return []


def supernet_dir(out: Path, rate: float, seed: int) -> Path:
    return out / "supernets" / f"r{rate:g}-s{seed}"


def run_ablation(out: str | Path, rates: list[float], supernet: SupernetConfig, data: DataSpec,
                 standalone: StandaloneConfig, config: CorrelateConfig, *, model_seeds: list[int] = (0,),
                 standalone_dir: str | Path | None = None, ui: AblationUI | None = None) -> dict:
    """Train (or reuse) a one-shot model per rate and seed, correlate them all against one set
    of stand-alone results; returns what is written to ``OUT/ablation.json``."""
    out, ui = Path(out), ui or AblationUI()
    if not rates or len(set(rates)) != len(rates) or not model_seeds or len(set(model_seeds)) != len(model_seeds):
        raise InputError(f"rates {rates} and model seeds {model_seeds}", hint="give distinct {rates} and {model_seeds}")
    for rate in rates:
        if not 0 <= rate < 1:
            raise InputError(f"dropout rate {rate} is not in [0, 1)", hint="give {rates} in [0, 1)")
    train = data.load("train", ui.note)
    _check_settings(out, supernet, data)  # (written once the data is known good)
    specs = []
    for seed in model_seeds:
        for rate in rates:
            folder = supernet_dir(out, rate, seed)
            if not _complete(folder):
                train_supernet(replace(supernet, dropout_rate=rate, seed=seed), train, folder, resume=True,
                               callbacks=ui.supernet(rate, seed))
            specs.append(OneShotModelSpec(str(folder), f"r = {rate:g}, seed {seed}",
                                          {"dropout_rate": rate, "model_seed": seed}))
    report = run_correlation(out, specs, data, standalone, config, standalone_dir=standalone_dir, ui=ui)
    table = [{"dropout_rate": m["dropout_rate"], "model_seed": m["model_seed"],
              "one_shot_spread": m["one_shot_spread"],
              **{k: m["one_shot_vs_standalone"][k] for k in ("kendall_tau", "spearman_rho", "top_k_precision")},
              "kl_kendall_tau": m["kl_vs_standalone"]["kendall_tau"], "top1": m["top1"]}
             for m in report["models"]]
    ablation = {"rates": list(rates), "model_seeds": list(model_seeds), "table": table,
                "by_rate": _by_rate(table, rates), "supernet": supernet.to_dict(),
                "correlation": str(out / "correlation.json")}
    atomic_write_json(out / "ablation.json", ablation)
    return ablation


def _by_rate(table: list[dict], rates: list[float]) -> list[dict]:
    """Per rate, the mean over model seeds of tau, rho, the one-shot spread and the pick's accuracy."""
    rows = []
    for rate in rates:
        runs = [t for t in table if t["dropout_rate"] == rate]
        rows.append({"dropout_rate": rate, "model_seeds": len(runs),
                     **{key: _mean([r[key]["value"] for r in runs]) for key in ("kendall_tau", "spearman_rho")},
                     "one_shot_std": _mean([r["one_shot_spread"]["pool"]["std"] for r in runs]),
                     "top1_standalone_accuracy": _mean([r["top1"]["standalone_accuracy"] for r in runs])})
    return rows


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _complete(folder: Path) -> bool:
    last = latest_checkpoint(folder)
    return last is not None and read_state(last).get("complete", False)


def _check_settings(out: Path, supernet: SupernetConfig, data: DataSpec) -> None:
    """All one-shot models of one folder differ only in their rate and seed."""
    varied = ("dropout_rate", "seed", "device")
    settings = {"supernet": {k: v for k, v in supernet.to_dict().items() if k not in varied}, "data": asdict(data)}
    guard_settings(out / "ablation_settings.json", settings, what="an ablation", hint="use another {out}")
