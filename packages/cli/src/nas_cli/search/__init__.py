"""The search, as a module you can import: random or Optuna-guided sampling over one-shot scores.

    from nas_core.data import DataSpec
    from nas_cli.search import SearchConfig, run_search, best_architectures

    study = run_search("runs/x", "runs/x/supernet", DataSpec("fashion-mnist"), SearchConfig(trials=50))
    for arch, figures in best_architectures(study, 3): ...

The `nas run` command is a thin layer over these functions (through ``nas_cli.pipeline``).
"""

from ._encoding import decode, distributions, encode, suggest_architecture
from ._samplers import SAMPLERS, budget_warning, create_sampler, list_samplers
from ._search import (
    COSTS,
    Objective,
    SearchConfig,
    best_architectures,
    make_scorer,
    open_search_study,
    pareto_finalists,
    pareto_fronts,
    run_search,
    search_worker,
    supernet_fingerprint,
)
from ._study import StudyError, claim_trial, default_storage, drain, open_storage, open_study, plan_trials

__all__ = [
    "COSTS",
    "SAMPLERS",
    "Objective",
    "SearchConfig",
    "StudyError",
    "best_architectures",
    "budget_warning",
    "claim_trial",
    "create_sampler",
    "decode",
    "default_storage",
    "distributions",
    "drain",
    "encode",
    "list_samplers",
    "make_scorer",
    "open_storage",
    "open_search_study",
    "open_study",
    "pareto_finalists",
    "pareto_fronts",
    "plan_trials",
    "run_search",
    "search_worker",
    "suggest_architecture",
    "supernet_fingerprint",
]
