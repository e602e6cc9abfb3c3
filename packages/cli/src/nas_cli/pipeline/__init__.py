"""`nas run` as a library: profiles and the resumable pipeline (supernet, search, train, export,
report). The Typer command in ``nas_cli.commands.run`` only parses options and draws progress."""

from ._pipeline import PHASES, PipelineUI, RunConfig, run_pipeline, run_study
from ._profiles import PROFILES, Profile, get_profile
from ._report import write_report

__all__ = ["PHASES", "PROFILES", "PipelineUI", "Profile", "RunConfig", "get_profile", "run_pipeline",
           "run_study", "write_report"]
