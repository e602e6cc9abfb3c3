"""`nas run`: the whole method in one resumable pipeline.

Phases (Bender et al. 2018: Sec. 3.2, Sec. 4, then deployment):

1. ``supernet``: train the one-shot model on the train split (``RUN/supernet``);
2. ``search``: score ``trials`` architectures by one-shot accuracy on the val split (``RUN/search``);
3. ``train``: train the ``top_k`` best from scratch (``RUN/standalone/<rank>-<arch id>``);
4. ``export``: the best stand-alone network (by val accuracy) to ONNX (``RUN/best``), if nas-export
   is installed;
5. ``report``: ``summary.json``, ``report.md`` and plots.

Each phase records itself in ``RUN/pipeline.json`` when it is done; re-running the same command
after an interruption skips finished phases and resumes the unfinished one from its checkpoints.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from nas_core.train import (
    Callback,
    RunDirError,
    atomic_write_json,
    latest_checkpoint,
    read_state,
    resolve_device,
    train_standalone,
    train_supernet,
)

from ..search import (
    DataSpec,
    SearchConfig,
    best_architectures,
    default_storage,
    open_storage,
    open_study,
    run_search,
)
from ._profiles import Profile

PHASES = ("supernet", "search", "train", "export", "report")
# What must match for a run directory to be continued by another `nas run`.
IDENTITY = ("profile", "dataset", "space", "cost", "seed", "subsets")


@dataclass(frozen=True)
class RunConfig:
    profile: str
    dataset: str
    space: str
    sampler: str
    trials: int
    top_k: int
    cost: str | None
    seed: int
    workers: int
    storage: str | None
    device: str
    data_dir: str | None
    subsets: dict
    study: str = "oneshot"  # Optuna study name


class PipelineUI:
    """What the pipeline reports; the CLI draws it with rich, tests and examples stay silent."""

    def phase(self, name: str, skipped: bool = False) -> None: ...

    def note(self, message: str) -> None: ...

    def trainer(self, title: str) -> list[Callback]:
        return []

    def trial(self, done: int, total: int, figures: dict) -> None: ...


def run_pipeline(out: str | Path, config: RunConfig, profile: Profile, ui: PipelineUI | None = None) -> dict:
    """Run (or continue) every phase; returns the summary written to ``summary.json``."""
    out, ui = Path(out), ui or PipelineUI()
    out.mkdir(parents=True, exist_ok=True)
    state = _load_state(out, config)
    data = DataSpec(config.dataset, config.data_dir, config.subsets, config.seed)
    steps = {"supernet": _supernet, "search": _search, "train": _train, "export": _export, "report": _report}
    for name in PHASES:
        done = state["phases"].get(name, {}).get("done", False)
        ui.phase(name, skipped=done)
        if done:
            continue
        start = time.perf_counter()
        result = steps[name](out, config, profile, data, ui, state)
        spent = state["phases"].get(name, {}).get("seconds", 0.0) + time.perf_counter() - start
        state["phases"][name] = {"done": True, "seconds": spent, **(result or {})}
        atomic_write_json(out / "pipeline.json", state)
    return json.loads((out / "summary.json").read_text())


def _load_state(out: Path, config: RunConfig) -> dict:
    path = out / "pipeline.json"
    if not path.exists():
        return {"config": asdict(config), "phases": {}}
    state = json.loads(path.read_text())
    for key in IDENTITY:
        if state["config"].get(key) != getattr(config, key):
            raise RunDirError(f"{out} holds a run with {key}={state['config'].get(key)!r}, not "
                              f"{getattr(config, key)!r}: use another --out")
    if config.trials != state["config"]["trials"] or config.top_k != state["config"]["top_k"]:
        # more trials or more finalists: redo from the search on (scores are cached)
        for name in PHASES[1:]:
            state["phases"].pop(name, None)
    state["config"] = asdict(config)
    return state


def _supernet(out, config, profile, data, ui, state) -> dict:
    train = data.load("train", ui.note)
    sn = replace(profile.supernet, space=config.space)
    train_supernet(sn, train, out / "supernet", resume=True, callbacks=ui.trainer("supernet"))
    return {"dir": str(out / "supernet")}


def _search_config(config: RunConfig) -> SearchConfig:
    return SearchConfig(sampler=config.sampler, trials=config.trials, cost=config.cost, seed=config.seed,
                        workers=config.workers, storage=config.storage, study=config.study, device=config.device)


def run_study(out: Path, config: RunConfig):
    """The Optuna study of the run's search phase."""
    search = _search_config(config)
    return open_study(open_storage(search.storage or default_storage(out / "search")), search.study,
                      search.directions)


def _search(out, config, profile, data, ui, state) -> dict:
    def on_trial(trial):
        ui.trial(trial.number + 1, config.trials, trial.user_attrs)

    study = run_search(out / "search", out / "supernet", data, _search_config(config), on_trial=on_trial,
                       on_count=lambda n: ui.trial(n, config.trials, {}))
    return {"study": study.study_name}


def _train(out, config, profile, data, ui, state) -> dict:
    study = run_study(out, config)
    splits = {s: data.load(s, ui.note) for s in ("train", "val")}
    test = _test_split(data, ui)
    finalists = []
    for rank, (arch, figures) in enumerate(best_architectures(study, config.top_k), start=1):
        folder = out / "standalone" / f"{rank}-{arch.id}"
        result_file = folder / "result.json"
        if not result_file.exists():
            train_standalone(arch, profile.standalone, splits["train"], splits["val"], folder, test=test,
                             resume=True, callbacks=ui.trainer(f"train #{rank} {arch.id}"))
        result = json.loads(result_file.read_text())
        finalists.append({"rank": rank, "dir": str(folder), "one_shot": figures, **_figures(result)})
    return {"finalists": finalists}


def _figures(result: dict) -> dict:
    return {"val_accuracy": result["val"]["accuracy"],
            "test_accuracy": result["test"]["accuracy"] if result["test"] else None,
            "params": result["params"], "flops": result["flops"], "train_seconds": result["train_seconds"]}


def _test_split(data: DataSpec, ui: PipelineUI):
    from nas_core.data import DataError

    try:
        return data.load("test", ui.note)
    except DataError as e:
        ui.note(f"no test split, test accuracy skipped: {e}")
        return None


def _best(state: dict) -> dict:
    finalists = state["phases"]["train"]["finalists"]
    return max(finalists, key=lambda f: (f["val_accuracy"], -f["rank"]))


def _export(out, config, profile, data, ui, state) -> dict:
    best = _best(state)
    best_dir = out / "best"
    if best_dir.exists():
        shutil.rmtree(best_dir)
    shutil.copytree(best["dir"], best_dir, ignore=shutil.ignore_patterns("checkpoints"))
    try:
        import nas_export
    except ImportError:
        ui.note("nas-export is not installed: ONNX export skipped (pip install -e packages/export)")
        return {"onnx": None}
    val = data.load("val", ui.note)
    report = nas_export.export_onnx(best_dir, best_dir / "model.onnx", images=val, log=ui.note)
    return {"onnx": str(best_dir / "model.onnx"), "parity": report}


def _report(out, config, profile, data, ui, state) -> dict:
    from ._report import write_report

    best = _best(state)
    summary = _summary(out, config, profile, state, best)
    atomic_write_json(out / "summary.json", summary)
    write_report(out, summary)
    return {}


def _summary(out: Path, config: RunConfig, profile: Profile, state: dict, best: dict) -> dict:
    from .._run_info import git_revision, versions

    result = json.loads((Path(best["dir"]) / "result.json").read_text())
    export = state["phases"].get("export", {})
    supernet_state = read_state(latest_checkpoint(out / "supernet"))
    return {
        "dataset": config.dataset, "profile": config.profile, "space": config.space,
        "sampler": config.sampler, "trials": config.trials, "top_k": config.top_k, "cost": config.cost,
        "best": {
            "arch": result["arch"], "arch_id": result["arch_id"], "arch_string": result["arch_string"],
            "one_shot_accuracy": best["one_shot"]["one_shot_accuracy"],
            "val_accuracy": best["val_accuracy"], "test_accuracy": best["test_accuracy"],
            "params": best["params"], "flops": best["flops"], "dir": str(out / "best"),
        },
        "finalists": state["phases"]["train"]["finalists"],
        "onnx": {"path": export.get("onnx"), "parity": export.get("parity")},
        "supernet": {"steps": supernet_state["step"], "config": supernet_state["config"]},
        "seconds": {name: state["phases"].get(name, {}).get("seconds") for name in PHASES},
        "device": str(resolve_device(config.device)),
        "torch_threads": torch.get_num_threads(),
        "versions": versions(), "git_revision": git_revision(),
        "run_dir": str(out),
    }

