"""`nas run` as a library: its settings (:class:`RunConfig`, profiles, :func:`run_config`,
:func:`load_run_config` for TOML config files, :func:`to_toml`), its run folders and the resumable
:class:`Pipeline` (supernet, search, train, export, report). The Typer command in
``nas_cli.commands.run`` only parses options and draws progress.

    from nas_cli.pipeline import Pipeline, load_run_config, run_config
    summary = Pipeline("runs/demo", run_config("smoke", device="cpu")).run()
    config = load_run_config("run.toml", ["supernet.dropout_rate=0.2"], device="cpu")
"""

from ._config import RunConfig, data_caps
from ._outdir import clear_run_dir, default_out, link_latest, run_name
from ._pipeline import PHASES, Pipeline, PipelineUI
from ._profiles import OPTIONS, PROFILES, get_profile, load_run_config, run_config
from ._report import write_report
from ._toml import to_toml

__all__ = ["OPTIONS", "PHASES", "PROFILES", "Pipeline", "PipelineUI", "RunConfig", "clear_run_dir", "data_caps",
           "default_out", "get_profile", "link_latest", "load_run_config", "run_config", "run_name", "to_toml",
           "write_report"]
