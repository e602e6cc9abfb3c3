"""The samplers a search can use: the paper's uniform random sampling and Optuna's smarter ones.

Registry (timm style, the conformance tests loop over it). Each entry builds an Optuna sampler
from a seed; ``multi_objective`` entries need a cost (accuracy up, cost down); ``population`` is
how many trials the sampler draws at random before it learns from any (:func:`budget_warning`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import optuna

NSGA2_POPULATION = 50  # Optuna's default population of NSGA-II
STARTUP_TRIALS = 10  # Optuna's default random trials before TPE / GP model the results


@dataclass(frozen=True)
class SamplerEntry:
    build: Callable[[int], optuna.samplers.BaseSampler]
    multi_objective: bool  # needs a cost objective
    help: str
    population: int = 0  # trials drawn at random before the sampler learns from any (NSGA-II: its first generation)


SAMPLERS: dict[str, SamplerEntry] = {
    "random": SamplerEntry(lambda seed: optuna.samplers.RandomSampler(seed=seed), False,
                           "uniform over the space (the paper)"),
    "tpe": SamplerEntry(lambda seed: optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True,
                                                                n_startup_trials=STARTUP_TRIALS), False,
                        "Optuna's tree-structured Parzen estimator", STARTUP_TRIALS),
    "gp": SamplerEntry(lambda seed: optuna.samplers.GPSampler(seed=seed, n_startup_trials=STARTUP_TRIALS), False,
                       "Optuna's Gaussian-process sampler", STARTUP_TRIALS),
    "nsga2": SamplerEntry(lambda seed: optuna.samplers.NSGAIISampler(seed=seed, population_size=NSGA2_POPULATION),
                          True, "NSGA-II: accuracy vs --cost (Pareto front)", NSGA2_POPULATION),
    "motpe": SamplerEntry(lambda seed: optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True,
                                                                  n_startup_trials=STARTUP_TRIALS), True,
                          "multi-objective TPE: accuracy vs --cost", STARTUP_TRIALS),
}


def list_samplers() -> list[str]:
    return list(SAMPLERS)


def create_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    try:
        return SAMPLERS[name].build(seed)
    except KeyError:
        raise ValueError(f"unknown sampler {name!r} (known: {', '.join(SAMPLERS)})") from None


def budget_warning(name: str, trials: int) -> str | None:
    """A warning when ``trials`` do not reach past the trials ``name`` draws at random: such a
    search is a random search whatever the sampler (NSGA-II with its default population of 50
    and 30 trials never breeds a second generation). None when the budget is enough."""
    population = SAMPLERS[name].population
    if trials > population:
        return None
    what = "its first generation" if name == "nsga2" else "before it models the results"
    return (f"sampler {name} draws {population} trials at random ({what}): with {trials} trials "
            "this search is a random search; give it more trials than that")
