"""`nas search`: join the search of a `nas run` folder from this machine (docs/scale.md).

Each worker scores architectures with its own copy of the run's one-shot model and claims trials
from the shared study (PostgreSQL for several machines) until the study holds its N trials. It
takes no lock on the run folder (``nas_cli._lock``): joining the `nas run` that holds it is the
point; the study's claims keep the workers apart.
"""

from __future__ import annotations

import os
import socket
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import optuna
import typer

from nas_cli._progress import progress_bar
from nas_cli._ui import UserError, console, first_line, summary_table, user_errors
from nas_cli.commands.run import RichPipelineUI
from nas_cli.pipeline import Pipeline, RunConfig
from nas_cli.pipeline._pipeline import read_run_state
from nas_cli.search import best_architectures, open_search_study, run_search


def search(
    run: Annotated[Path, typer.Option("--run", help="The `nas run` folder whose search to join (its "
                                      "pipeline.json and one-shot model; a copy on this machine will do).")],
    storage: Annotated[str | None, typer.Option(help="The study's storage URL (default: the run's; "
                                                     "postgresql://USER:PASSWORD@HOST/DB to share).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes on this machine.")] = 1,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or cuda:N (default: the run's).")] = None,
    heartbeat: Annotated[int | None, typer.Option(min=1, help="Seconds between a trial's heartbeats; a trial "
                                                  "4 heartbeats late is redone (default 5).")] = None,
    finalists: Annotated[bool, typer.Option("--finalists", help="Then train the finalists no other machine "
                                            "has claimed (into the run folder: share it).")] = False,
) -> None:
    """Score trials of a run's study from this machine until the study holds its N trials; with
    --finalists, then train the finalists nobody else has claimed."""
    with user_errors():
        config = _run_config(run, storage, workers, device, heartbeat)
        open_search_study(run / "search", run / "supernet", config.search)  # a wrong URL or study fails here
        total = config.search.trials
        console.print(f"[bold]nas search[/] joins study {config.search.study!r} of {run}: {total} trials, "
                      f"{workers} worker(s) on {socket.gethostname()}")
        bar = progress_bar(elapsed=True)
        with bar:
            task = bar.add_task("search", total=total, status="")

            def on_trial(trial: optuna.trial.FrozenTrial) -> None:
                bar.update(task, advance=1, status=f"one-shot acc {trial.values[0]:.3f}")

            study = run_search(run / "search", run / "supernet", config.data, config.search, on_trial=on_trial,
                               on_count=lambda n: bar.update(task, completed=n),
                               cache=f"scores.{socket.gethostname()}.{os.getpid()}.jsonl")  # this worker's own
        _summary(study)
        if finalists:
            ui = RichPipelineUI()
            try:
                trained = Pipeline(run, config, ui).train_claimed()
            finally:
                ui.stop()
            console.print(f"finalists trained here: {trained} of {config.top_k}")


def _run_config(run: Path, storage: str | None, workers: int, device: str | None,
                heartbeat: int | None) -> RunConfig:
    state = run / "pipeline.json"
    if not state.is_file():
        raise UserError(f"{run} is not a `nas run` folder (no pipeline.json)",
                        hint="give {run} the folder `nas run --out` wrote")
    try:
        config = RunConfig.from_dict(read_run_state(state)["config"])
    except (KeyError, TypeError) as e:  # a config of missing keys or wrong types (read_run_state saw its shape)
        raise UserError(f"cannot read {state}: its config is not a run's ({type(e).__name__}: {first_line(e)})",
                        hint="give {run} the folder `nas run --out` wrote") from None
    changes = {"workers": workers, **{k: v for k, v in (("storage", storage), ("device", device),
                                                        ("heartbeat", heartbeat)) if v is not None}}
    return replace(config, search=replace(config.search, **changes))


def _summary(study: optuna.Study) -> None:
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    table = summary_table("nas search: nothing left to claim")
    table.add_row("complete trials in the study", str(len(done)))
    if done:
        arch, figures = best_architectures(study, 1)[0]
        table.add_row("best so far", f"{arch.id}  one-shot accuracy {figures['one_shot_accuracy']:.4f}")
    console.print(table)
