"""The samplers a search can use: the paper's uniform random sampling and Optuna's smarter ones.

Registry (timm style, the conformance tests loop over it). Each entry builds an Optuna sampler
from a seed; ``multi_objective`` entries need a cost (accuracy up, cost down).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import optuna


@dataclass(frozen=True)
class SamplerEntry:
    build: Callable[[int], optuna.samplers.BaseSampler]
    multi_objective: bool  # needs a cost objective
    help: str


SAMPLERS: dict[str, SamplerEntry] = {
    "random": SamplerEntry(lambda seed: optuna.samplers.RandomSampler(seed=seed), False,
                           "uniform over the space (the paper)"),
    "tpe": SamplerEntry(lambda seed: optuna.samplers.TPESampler(seed=seed, multivariate=True,
                                                                constant_liar=True), False,
                        "Optuna's tree-structured Parzen estimator"),
    "gp": SamplerEntry(lambda seed: optuna.samplers.GPSampler(seed=seed), False,
                       "Optuna's Gaussian-process sampler"),
    "nsga2": SamplerEntry(lambda seed: optuna.samplers.NSGAIISampler(seed=seed), True,
                          "NSGA-II: accuracy vs --cost (Pareto front)"),
    "motpe": SamplerEntry(lambda seed: optuna.samplers.TPESampler(seed=seed, multivariate=True,
                                                                  constant_liar=True), True,
                          "multi-objective TPE: accuracy vs --cost"),
}


def list_samplers() -> list[str]:
    return list(SAMPLERS)


def create_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    try:
        return SAMPLERS[name].build(seed)
    except KeyError:
        raise ValueError(f"unknown sampler {name!r} (known: {', '.join(SAMPLERS)})") from None
