"""How well one-shot accuracy ranks architectures, measured on your data (Bender et al. 2018, Sec. 4-5).

    from nas_cli.correlate import CorrelateConfig, OneShotModelSpec, run_correlation
    from nas_cli.pipeline import run_config

    settings = run_config("quick")  # the quick profile's data and stand-alone training
    report = run_correlation("runs/corr", [OneShotModelSpec("runs/x/supernet", "seed 0")],
                             settings.data, settings.standalone, CorrelateConfig(archs=24))
    report["models"][0]["one_shot_vs_standalone"]["kendall_tau"]  # {"value", "low", "high", "level"}

`nas correlate` and `nas ablate dropout` are thin layers over these functions.
"""

from ._ablation import AblationUI, run_ablation, supernet_dir
from ._study import (
    MAX_BOOTSTRAP,
    MAX_KL_EXAMPLES,
    MAX_POOL,
    MAX_SCORE_IMAGES,
    MAX_SEEDS,
    CorrelateConfig,
    CorrelateUI,
    OneShotModelSpec,
    run_correlation,
)

__all__ = ["MAX_BOOTSTRAP", "MAX_KL_EXAMPLES", "MAX_POOL", "MAX_SCORE_IMAGES", "MAX_SEEDS", "AblationUI",
           "CorrelateConfig", "CorrelateUI", "OneShotModelSpec", "run_ablation", "run_correlation", "supernet_dir"]
