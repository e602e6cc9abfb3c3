"""`nas dashboard RUN_DIR`: watch a search in optuna-dashboard."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from nas_cli._ui import UserError, console, err_console, user_errors

INSTALL = "pip install 'nas-cli[dashboard]' (or: pip install optuna-dashboard)"


def storage_of(run_dir: Path) -> str:
    """The study storage of a `nas run` directory (or of a search directory)."""
    for db in (run_dir / "search" / "study.db", run_dir / "study.db"):
        if db.exists():
            return f"sqlite:///{db.resolve()}"
    raise UserError(f"no study in {run_dir} (looked for search/study.db and study.db)")


def dashboard(
    run_dir: Annotated[Path, typer.Argument(help="A `nas run` directory.")],
    port: Annotated[int, typer.Option(help="Port to listen on (1 to 65535).")] = 8080,
    host: Annotated[str, typer.Option(help="Address to bind: 127.0.0.1 (this machine only), or e.g. "
                                           "0.0.0.0 to let other machines connect.")] = "127.0.0.1",
    storage: Annotated[str | None, typer.Option(help="Any Optuna storage URL instead of the run's.")] = None,
) -> None:
    """Start optuna-dashboard on the run's study, bound to 127.0.0.1 unless --host says otherwise,
    and print its URL."""
    with user_errors():
        if not 0 < port < 2**16:
            raise UserError(f"port {port} is not a TCP port", hint="give {port} from 1 to 65535")
        url = storage or storage_of(run_dir)
        try:
            from optuna_dashboard import run_server
        except ImportError:
            raise UserError(f"optuna-dashboard is not installed: {INSTALL}") from None
        if not is_loopback(host):
            err_console.print(f"[yellow]warning:[/] binding to {escape(host)}: anyone who can reach this machine "
                              "can read and change the study (optuna-dashboard has no login)", highlight=False)
        shown = f"[{host}]" if ":" in host else host  # IPv6 in URLs
        console.print(escape(f"optuna-dashboard: http://{shown}:{port}/  (Ctrl+C to stop)"), highlight=False)
        run_server(url, host=host, port=port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine (localhost, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any address
        return False
