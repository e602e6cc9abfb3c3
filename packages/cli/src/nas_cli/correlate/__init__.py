"""How well one-shot accuracy ranks architectures, measured on your data (Bender et al. 2018, Sec. 4-5).

    from nas_cli.correlate import CorrelateConfig, OneShotModelSpec, run_correlation
    from nas_cli.search import DataSpec
    report = run_correlation("runs/corr", [OneShotModelSpec("runs/x/supernet", "seed 0")],
                             DataSpec("fashion-mnist", subsets={"train": 5000, "val": 1000}),
                             StandaloneConfig(width=8, cells_per_stack=1, epochs=3), CorrelateConfig(archs=24))
    report["models"][0]["one_shot_vs_standalone"]["kendall_tau"]  # {"value", "low", "high", "level"}

`nas correlate` and `nas ablate dropout` are thin layers over these functions.
"""

from ._ablation import AblationUI, run_ablation, supernet_dir
from ._study import CorrelateConfig, CorrelateUI, OneShotModelSpec, run_correlation

__all__ = ["AblationUI", "CorrelateConfig", "CorrelateUI", "OneShotModelSpec", "run_ablation",
           "run_correlation", "supernet_dir"]
