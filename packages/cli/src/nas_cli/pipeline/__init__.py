"""`nas run` as a library: its settings (:class:`RunConfig`, profiles, :func:`run_config`) and the
resumable :class:`Pipeline` (supernet, search, train, export, report). The Typer command in
``nas_cli.commands.run`` only parses options and draws progress.

    from nas_cli.pipeline import Pipeline, run_config
    summary = Pipeline("runs/demo", run_config("smoke", device="cpu")).run()
"""

from ._config import RunConfig
from ._pipeline import PHASES, Pipeline, PipelineUI, run_pipeline
from ._profiles import PROFILES, get_profile, run_config
from ._report import write_report

__all__ = ["PHASES", "PROFILES", "Pipeline", "PipelineUI", "RunConfig", "get_profile", "run_config",
           "run_pipeline", "write_report"]
