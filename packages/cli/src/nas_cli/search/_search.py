"""The search: sample architectures, score each inside the trained one-shot model, keep the best.

Paper: Bender et al. 2018, Sec. 4 (random search over one-shot accuracy). Every trial of the
Optuna study is one architecture: the sampler suggests it through the categorical encoding
(``_encoding.py``), the one-shot model scores it (``nas_core.Scorer``, cached by architecture id
in ``scores.jsonl``), and the trial stores the architecture and its figures as user attributes,
so optuna-dashboard shows them. ``workers > 1`` runs that many processes against one study, and
``nas search`` joins one from other machines: queued slots and heartbeats (``_study.py``) make all
of them together end with exactly ``trials`` trials, redoing only the trials of workers that died.

The finalists (:func:`best_architectures`) are the top-K by one-shot accuracy, or, with a cost
objective, K architectures of the Pareto front of one-shot accuracy against the cost. A latency
cost is the stand-alone network's PyTorch latency at batch 1 on the CPU (one thread, warm-up,
median: :func:`nas_core.measure_latency`).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import optuna
import torch

from nas_core import Architecture, Score, Scorer, build_network, measure_latency
from nas_core.data import DataSpec
from nas_core.errors import InputError
from nas_core.train import latest_checkpoint, load_supernet, read_state, resolve_device
from nas_core.train.checkpoint import file_sha256

from ._encoding import suggest_architecture
from ._samplers import SAMPLERS, create_sampler
from ._study import (
    HEARTBEAT_S,
    StudyError,
    complete,
    default_storage,
    drain,
    open_storage,
    open_study,
    plan_trials,
    require_attrs,
)

COSTS = ("params", "flops", "latency")


@dataclass(frozen=True)
class SearchConfig:
    sampler: str = "random"  # see _samplers.SAMPLERS
    trials: int = 100  # trials in total (a re-run continues up to this many)
    cost: str | None = None  # params | flops | latency: a second objective, minimised
    seed: int = 0
    workers: int = 1  # processes on this machine, against the same study
    storage: str | None = None  # Optuna storage URL; default: SQLite file in the run directory
    study: str = "oneshot"  # study name
    scoring: str = "batch-stats"  # or "recalibrate" (see nas_core.scoring)
    score_images: int | None = None  # val images that score each trial, class-balanced (None: all)
    batch_size: int = 500  # evaluation batch (its statistics normalise the batch norm)
    device: str = "auto"
    heartbeat: int = HEARTBEAT_S  # seconds between a running trial's heartbeats (stale after 4 missed)

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise InputError(f"unknown sampler {self.sampler!r}", hint=f"choose {{sampler}} from {', '.join(SAMPLERS)}")
        if self.cost is not None and self.cost not in COSTS:
            raise InputError(f"unknown cost {self.cost!r}", hint=f"choose {{cost}} from {', '.join(COSTS)}")
        if self.trials < 1:
            raise InputError(f"{self.trials} trials asked for", hint="give {trials} of at least 1")
        if self.workers < 1:
            raise InputError(f"{self.workers} workers asked for", hint="give {workers} of at least 1")
        if self.score_images is not None and self.score_images < 1:
            raise InputError(f"{self.score_images} images to score on", hint="give {score_images} of at least 1")
        if self.heartbeat < 1:
            raise InputError(f"a heartbeat every {self.heartbeat} s", hint="give {heartbeat} of at least 1")

    @property
    def objective_cost(self) -> str | None:
        """The cost objective; multi-objective samplers default to params."""
        if self.cost is None and SAMPLERS[self.sampler].multi_objective:
            return "params"
        return self.cost

    @property
    def directions(self) -> list[str]:
        return ["maximize"] + (["minimize"] if self.objective_cost else [])


def trial_figures(arch: Architecture, score: Score, latency_ms: float | None) -> dict:
    """User attributes of a trial (shown by optuna-dashboard)."""
    figures = {"arch": arch.to_json(), "arch_id": arch.id, "arch_string": str(arch),
               "one_shot_accuracy": score.accuracy, "one_shot_loss": score.loss,
               "params": score.params, "flops": score.flops}
    if latency_ms is not None:
        figures["latency_ms"] = latency_ms
    return figures


class Objective:
    """One trial: suggest an architecture, score it, record it, return the objective value(s)."""

    def __init__(self, scorer: Scorer, cost: str | None):
        self.scorer, self.cost = scorer, cost
        self.space = scorer.model.space

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, float]:
        arch = suggest_architecture(trial, self.space)
        score = self.scorer(arch)
        latency = self._latency(arch) if self.cost == "latency" else None
        for key, value in trial_figures(arch, score, latency).items():
            trial.set_user_attr(key, value)
        if self.cost is None:
            return score.accuracy
        cost = {"params": score.params, "flops": score.flops, "latency": latency}[self.cost]
        return score.accuracy, float(cost)

    def _latency(self, arch: Architecture) -> float:
        val = self.scorer.val
        net = build_network(arch, self.scorer.model.config)
        return measure_latency(net, tuple(val.images.shape[1:]))


def make_scorer(run_dir: Path, supernet_dir: Path, data: DataSpec, config: SearchConfig,
                cache: str = "scores.jsonl") -> Scorer:
    device = resolve_device(config.device)
    model = load_supernet(supernet_dir, device)
    train = data.load("train") if config.scoring == "recalibrate" else None
    val = data.load("val")
    if config.score_images:
        val = val.subset(config.score_images, data.seed)
    model_id = supernet_fingerprint(supernet_dir) + (f":val{len(val)}" if config.score_images else "")
    return Scorer(model, val, batch_size=config.batch_size, mode=config.scoring, train=train,
                  cache_file=run_dir / cache, model_id=model_id)


def supernet_fingerprint(supernet_dir: Path) -> str:
    """SHA-256 of the one-shot model's weights: every worker must score with the same model."""
    folder = _supernet_checkpoint(supernet_dir)
    # latest_checkpoint has just checked the file against the hash its checkpoint records.
    recorded = read_state(folder).get("files", {}).get("model.safetensors", {}).get("sha256")
    return recorded or file_sha256(folder / "model.safetensors")  # checkpoints from before hashes


def _supernet_checkpoint(supernet_dir: Path) -> Path:
    folder = latest_checkpoint(supernet_dir)
    if folder is None:
        raise StudyError(f"no one-shot model in {supernet_dir}", hint="train it first (nas run does)")
    return folder


def open_search_study(run_dir: Path, supernet_dir: Path, config: SearchConfig) -> optuna.Study:
    """The search's study, checked to be for this space and one-shot model."""
    storage = open_storage(config.storage or default_storage(run_dir), config.heartbeat)
    study = open_study(storage, config.study, config.directions)
    space = read_state(_supernet_checkpoint(supernet_dir))["space"]["name"]  # no need to build the model
    require_attrs(study, {"space": space, "supernet_sha256": supernet_fingerprint(supernet_dir),
                          "scoring": f"{config.scoring} on {config.score_images or 'all'} val images"})
    return study


def _slot_seed(seed: int, slot: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:slot-{slot}".encode()).digest()[:4], "little")


def search_worker(run_dir: Path, supernet_dir: Path, data: DataSpec, config: SearchConfig,
                  worker: int = 0, on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None,
                  scorer: Scorer | None = None, cache: str = "scores.jsonl") -> int:
    """Run queued trials until none is left and none runs elsewhere; returns how many this worker ran.

    Any number of workers, on any machines, may run this against one study: each claims queued
    trials one at a time and keeps a heartbeat while it scores; a trial whose worker died is
    failed and queued again by the next worker that looks (``_study.py``)."""
    if config.workers > 1:
        torch.set_num_threads(max(1, (multiprocessing.cpu_count() or 1) // config.workers))
    scorer = scorer or make_scorer(run_dir, supernet_dir, data, config, cache)
    study = open_search_study(run_dir, supernet_dir, config)
    objective = Objective(scorer, config.objective_cost)

    def sampler_for(slot: int) -> optuna.samplers.BaseSampler:
        return create_sampler(config.sampler, _slot_seed(config.seed, slot))

    return drain(study, config.trials, objective, wait_s=config.heartbeat, sampler_for=sampler_for,
                 on_done=on_trial)


def _spawned_worker(*args) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search_worker(*args)


def run_search(run_dir: str | Path, supernet_dir: str | Path, data: DataSpec, config: SearchConfig, *,
               on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None,
               on_count: Callable[[int], None] | None = None, scorer: Scorer | None = None,
               cache: str = "scores.jsonl") -> optuna.Study:
    """Search until the study holds ``config.trials`` complete trials; resumes an existing study,
    or joins one that workers elsewhere run (``cache``: the score cache file in ``run_dir``)."""
    run_dir, supernet_dir = Path(run_dir), Path(supernet_dir)
    if config.storage is None:
        run_dir.mkdir(parents=True, exist_ok=True)  # the SQLite study lives there
    study = open_search_study(run_dir, supernet_dir, config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["one_shot_accuracy"] + ([config.objective_cost] if config.objective_cost else []))
    study.set_user_attr("search_config", {**asdict(config), "storage": None})  # no password in the study
    study.set_user_attr("trials", config.trials)
    plan_trials(study, config.trials)
    if config.workers == 1:
        search_worker(run_dir, supernet_dir, data, config, 0, on_trial, scorer, cache)
    else:
        _run_processes(run_dir, supernet_dir, data, config, study, on_count, cache)
    return study


def _run_processes(run_dir, supernet_dir, data, config, study, on_count, cache) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_spawned_worker, args=(run_dir, supernet_dir, data, config, w, None, None, cache))
             for w in range(config.workers)]
    for p in procs:
        p.start()
    while any(p.is_alive() for p in procs):
        if on_count is not None:
            on_count(len(complete(study)))
        time.sleep(0.5)
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} search worker(s) failed (exit codes {failed}); "
                           "re-run the same command to continue the study")


def best_architectures(study: optuna.Study, k: int) -> list[tuple[Architecture, dict]]:
    """The ``k`` finalists, as distinct architectures with their trial's figures, best one-shot
    accuracy first (ties: fewer params).

    One objective: the ``k`` highest one-shot accuracies. With a cost objective: the Pareto front of
    one-shot accuracy against the cost (:func:`pareto_finalists`); each figures dict then also holds
    ``cost`` (the trial's cost value) and ``front`` (1: the Pareto front, 2: the next, ...)."""
    distinct: dict[str, dict] = {}
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        cost = {"cost": t.values[1]} if len(t.values) > 1 else {}
        distinct.setdefault(t.user_attrs["arch_id"], {**t.user_attrs, "trial": t.number, **cost})
    points = list(distinct.values())
    chosen = pareto_finalists(points, k) if len(study.directions) > 1 else sorted(points, key=_by_accuracy)[:k]
    return [(Architecture.from_json(a["arch"]), a) for a in sorted(chosen, key=_by_accuracy)]


def _by_accuracy(a: dict) -> tuple:
    return -a["one_shot_accuracy"], a["params"], a["trial"]


def pareto_fronts(points: list[dict]) -> Iterator[list[dict]]:
    """Non-dominated sorting of ``points`` (dicts with ``one_shot_accuracy``, maximised, and
    ``cost``, minimised): the Pareto front, then the front of what is left, and so on. Each front
    is ordered along it, cheapest (and least accurate) first."""
    rest = sorted(points, key=lambda p: (-p["one_shot_accuracy"], p["cost"]))
    while rest:
        # Sweep from the most accurate: a point is on the front iff no point at least as accurate
        # costs as little (equal in both objectives: neither dominates).
        front, left, cheapest = [], [], None
        for p in rest:
            if cheapest is None or p["cost"] < cheapest["cost"] or (
                    p["cost"] == cheapest["cost"] and p["one_shot_accuracy"] == cheapest["one_shot_accuracy"]):
                front.append(p)
                cheapest = p
            else:
                left.append(p)
        yield front[::-1]
        rest = left


def pareto_finalists(points: list[dict], k: int) -> list[dict]:
    """``k`` points from the Pareto fronts, each with its ``front`` number.

    The Pareto front, when it holds more than ``k``, gives ``k`` points spread evenly along it
    (equal steps of rank from the cheapest to the most accurate, which is always kept). A front
    that holds fewer is taken whole and the next fronts fill the rest: whole while they fit, then
    the most accurate (one-shot) of the front that does not."""
    chosen: list[dict] = []
    for number, front in enumerate(pareto_fronts(points), start=1):
        wanted = k - len(chosen)
        if wanted <= 0:
            break
        if len(front) > wanted:
            front = _spread(front, wanted) if not chosen else sorted(front, key=_by_accuracy)[:wanted]
        chosen += [{**p, "front": number} for p in front]
    return chosen


def _spread(front: list[dict], k: int) -> list[dict]:
    """``k`` of ``front`` (ordered along it) at evenly spaced ranks, its last (most accurate) included."""
    if k == 1:
        return front[-1:]
    n = len(front)
    return [front[round(i * (n - 1) / (k - 1))] for i in range(k)]
