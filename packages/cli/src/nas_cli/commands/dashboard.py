"""`nas dashboard RUN_DIR`: watch a search in optuna-dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nas_cli._ui import UserError, console, user_errors

INSTALL = "pip install 'nas-cli[dashboard]' (or: pip install optuna-dashboard)"


def storage_of(run_dir: Path) -> str:
    """The study storage of a `nas run` directory (or of a search directory)."""
    for db in (run_dir / "search" / "study.db", run_dir / "study.db"):
        if db.exists():
            return f"sqlite:///{db.resolve()}"
    raise UserError(f"no study in {run_dir} (looked for search/study.db and study.db)")


def dashboard(
    run_dir: Annotated[Path, typer.Argument(help="A `nas run` directory.")],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8080,
    storage: Annotated[str | None, typer.Option(help="Any Optuna storage URL instead of the run's.")] = None,
) -> None:
    """Start optuna-dashboard on the run's study, bound to 127.0.0.1, and print its URL."""
    with user_errors():
        url = storage or storage_of(run_dir)
        try:
            from optuna_dashboard import run_server
        except ImportError:
            raise UserError(f"optuna-dashboard is not installed: {INSTALL}") from None
        console.print(f"optuna-dashboard: http://127.0.0.1:{port}/  (Ctrl+C to stop)")
        run_server(url, host="127.0.0.1", port=port)
