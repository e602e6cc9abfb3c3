"""nas-core: one-shot architecture search (Bender et al., ICML 2018) in plain PyTorch.

Where to read: ``space.py`` (the search space as data), ``cell.py`` and ``oneshot.py`` (the
one-shot model), ``network.py`` (stand-alone networks).
"""

from .evaluation import evaluate_split
from .memory import reuse_freed_memory
from .network import (
    Network,
    NetworkConfig,
    arch_cost,
    build_network,
    count_flops,
    count_params,
    measure_latency,
)
from .oneshot import OneShotModel, PathMasks, add_weight_decay
from .ops import ONE_SHOT_NORM, STANDALONE_NORM, NormSpec
from .scoring import Score, Scorer, one_shot_accuracy
from .space import (
    PAPER_OPS,
    Architecture,
    ArchitectureError,
    Block,
    SearchSpace,
    get_space,
    list_spaces,
    register_space,
)
from .stats import Estimate, bootstrap, kendall_tau, spearman_rho, top_k_precision
from .threads import apply_threads

__version__ = "0.1.0"

__all__ = [
    "ONE_SHOT_NORM",
    "PAPER_OPS",
    "STANDALONE_NORM",
    "Architecture",
    "ArchitectureError",
    "Block",
    "Estimate",
    "Network",
    "NetworkConfig",
    "NormSpec",
    "OneShotModel",
    "PathMasks",
    "Score",
    "Scorer",
    "SearchSpace",
    "__version__",
    "add_weight_decay",
    "arch_cost",
    "bootstrap",
    "build_network",
    "count_flops",
    "count_params",
    "evaluate_split",
    "get_space",
    "kendall_tau",
    "list_spaces",
    "measure_latency",
    "one_shot_accuracy",
    "register_space",
    "reuse_freed_memory",
    "apply_threads",
    "spearman_rho",
    "top_k_precision",
]
