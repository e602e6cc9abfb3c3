"""`nas run`: the whole method in one resumable pipeline.

Phases (Bender et al. 2018: Sec. 3.2, Sec. 4, then deployment), each a method of :class:`Pipeline`:

1. ``supernet``: train the one-shot model on the train split (``RUN/supernet``);
2. ``search``: score ``trials`` architectures by one-shot accuracy on the val split (``RUN/search``);
3. ``train``: train the ``top_k`` finalists from scratch (``RUN/standalone/<rank>-<arch id>``): the
   best by one-shot accuracy, or with a cost objective K from the Pareto front; time each on
   onnxruntime (``_latency.py``) and record the results on the study (``_record.py``);
4. ``export``: the finalist the pick rule chooses (``_pick.py``; default: the best stand-alone val
   accuracy) to ONNX (``RUN/best``), if nas-export is installed;
5. ``report``: ``summary.json``, ``report.md`` and plots.

Under torchrun the training phases (1 and 3) run on every process; rank 0 alone searches,
exports, reports and writes ``pipeline.json``, while the others wait (docs/scale.md).

Paths in ``pipeline.json``, ``summary.json`` and ``report.md`` are relative to the run folder.
Each phase records itself in ``RUN/pipeline.json`` when it is done; re-running the same command
after an interruption skips finished phases and resumes the unfinished one from its checkpoints.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from hashlib import sha256
from pathlib import Path

import optuna
import torch

from nas_core.data import ImageData
from nas_core.jsonfile import UnreadableJson, read_json, read_json_object
from nas_core.run_info import git_revision, versions
from nas_core.train import (
    Callback,
    RunDirError,
    atomic_write_json,
    current_world,
    init_world,
    latest_checkpoint,
    read_result,
    read_state,
    require_same,
    resolve_device,
    train_standalone,
    train_supernet,
)

from ..search import (
    best_architectures,
    budget_warning,
    default_storage,
    drain,
    open_storage,
    open_study,
    plan_trials,
    run_search,
)
from ._config import RunConfig, identity
from ._latency import SETTINGS as LATENCY_SETTINGS
from ._latency import ort_latency_ms
from ._pick import parse_pick, pick_finalist
from ._record import describe_run, record_deployed, record_finalists
from ._report import finalist_table, write_report

PHASES = ("supernet", "search", "train", "export", "report")
RESULT_KEYS = ("arch", "arch_id", "arch_string", "val", "test", "params", "flops", "train_seconds")  # of result.json
DISTRIBUTED = ("supernet", "train")  # the phases every torchrun process takes part in


class PipelineUI:
    """What the pipeline reports; the CLI draws it with rich, tests and examples stay silent."""

    def phase(self, name: str, skipped: bool = False) -> None: ...

    def note(self, message: str) -> None: ...

    def trainer(self, title: str) -> list[Callback]:
        return []

    def trial(self, done: int, total: int, figures: dict) -> None: ...

    def table(self, title: str, header: list[str], rows: list[list[str]]) -> None:
        """A small table (the finalists); by default as aligned :meth:`note` lines."""
        widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
        self.note(title)
        for row in (header, *rows):
            self.note("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


class Pipeline:
    """One `nas run` directory: its settings, its state (``pipeline.json``) and the phases."""

    def __init__(self, out: str | Path, config: RunConfig, ui: PipelineUI | None = None):
        self.out, self.config, self.ui = Path(out), config, ui or PipelineUI()
        self.state: dict = {}
        self._splits: dict[str, ImageData | None] = {}  # each split is read once per run

    def run(self) -> dict:
        """Run (or continue) every phase; returns the summary written to ``summary.json``."""
        world = init_world(resolve_device(self.config.supernet.device))
        self.out.mkdir(parents=True, exist_ok=True)
        self.state = self._load_state()
        world.barrier()  # every process has read the same state before rank 0 changes it
        phases: dict[str, Callable[[], dict]] = {
            "supernet": self.train_supernet, "search": self.search, "train": self.train_finalists,
            "export": self.export, "report": self.report}
        for name in PHASES:
            done = self.state["phases"].get(name, {}).get("done", False)
            self.ui.phase(name, skipped=done)
            if done:
                continue
            start = time.perf_counter()
            if name in DISTRIBUTED or world.main:
                result = phases[name]()
            if world.main:
                spent = self.state["phases"].get(name, {}).get("seconds", 0.0) + time.perf_counter() - start
                self.state["phases"][name] = {"done": True, "seconds": spent, **result}
                atomic_write_json(self.out / "pipeline.json", self.state)
            world.barrier()
        return _read_summary(self.out / "summary.json")

    def _load_state(self) -> dict:
        path = self.out / "pipeline.json"
        if not path.exists():
            return {"config": self.config.to_dict(), "phases": {}}
        state = read_run_state(path)
        recorded = state["config"]
        require_same(identity(recorded), identity(self.config.to_dict()), where=self.out, what="a run",
                     hint="use another {out}")
        if (self.config.search.trials, self.config.top_k) != (recorded["search"]["trials"], recorded["top_k"]):
            for name in PHASES[1:]:  # more trials or finalists: redo from the search on (scores are cached)
                state["phases"].pop(name, None)
        if self.config.pick != recorded.get("pick", "accuracy"):  # another rule may deploy another finalist
            finalists = state["phases"].get("train", {}).get("finalists", [])
            untimed = self.needs_latency and any(f.get("latency_ms") is None for f in finalists)
            for name in ("train", "export", "report") if untimed else ("export", "report"):
                # (the train phase reuses the trained finalists and measures the missing latencies)
                state["phases"].pop(name, None)
        if "report" in state["phases"] and _read_summary(self.out / "summary.json") is None:
            self.ui.note(f"{self.out / 'summary.json'} is missing or damaged: writing the report again")
            state["phases"].pop("report")  # (summary.json and report.md are made from the phases before)
        state["config"] = self.config.to_dict()
        return state

    @property
    def needs_latency(self) -> bool:
        """Whether the finalists' onnxruntime latency is measured: for the Pareto table of a search
        with a cost objective, and for a ``max-latency-ms`` pick rule (each costs an ONNX export,
        about 8 s per finalist on a 2-core CPU, so a plain accuracy search skips it)."""
        return self.config.search.objective_cost is not None or parse_pick(self.config.pick).kind == "max-latency-ms"

    def split(self, name: str) -> ImageData | None:
        """The ``train``, ``val`` or ``test`` split (None: this copy of the data has no test split)."""
        if name not in self._splits:
            data = self.config.data
            self._splits[name] = data.load_test(self.ui.note) if name == "test" else data.load(name, self.ui.note)
        return self._splits[name]

    @property
    def storage(self) -> optuna.storages.BaseStorage:
        """Where the search's study lives (by default ``RUN/search/study.db``)."""
        search = self.config.search  # (its heartbeat: the finalists' claims are kept alive as trials are)
        if search.storage:
            return open_storage(search.storage, search.heartbeat)
        (self.out / "search").mkdir(parents=True, exist_ok=True)
        return open_storage(default_storage(self.out / "search"), search.heartbeat)

    @property
    def study(self) -> optuna.Study:
        """The Optuna study of the search phase."""
        search = self.config.search
        return open_study(self.storage, search.study, search.directions)

    def path(self, path: Path) -> str:
        """``path`` (inside the run folder) as summary.json and report.md write it: relative to the
        run folder, never to the caller's working directory."""
        return Path(path).relative_to(self.out).as_posix()

    def train_supernet(self) -> dict:
        """Phase 1 (Sec. 3.2): the one-shot model, with scheduled path dropout."""
        train_supernet(self.config.supernet, self.split("train"), self.out / "supernet", resume=True,
                       callbacks=self.ui.trainer("supernet"))
        return {"dir": "supernet"}

    def search(self) -> dict:
        """Phase 2 (Sec. 4): score ``trials`` architectures inside the one-shot model."""
        config, total = self.config, self.config.search.trials
        warning = budget_warning(config.search.sampler, total)
        if warning:
            self.ui.note(warning)
        counting = self.study  # workers elsewhere may complete trials too: count them all

        def on_trial(trial: optuna.trial.FrozenTrial) -> None:
            done = counting.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            self.ui.trial(len(done), total, trial.user_attrs)

        study = run_search(self.out / "search", self.out / "supernet", self.config.data, self.config.search,
                           on_trial=on_trial,
                           on_count=lambda n: self.ui.trial(n, total, {}))
        describe_run(study, dataset=config.data.dataset, profile=config.profile, space=config.space, run_dir=self.out)
        return {"study": study.study_name, "warnings": [warning] if warning else []}

    def train_finalists(self) -> dict:
        """Phase 3 (Sec. 4): the ``top_k`` finalists (the best by one-shot accuracy, or the Pareto front
        with a cost objective) trained from scratch, here or by `nas search --finalists` elsewhere,
        each with its onnxruntime latency; the results are recorded on the study (``_record.py``)."""
        self.train_claimed()
        if not current_world().main:  # under torchrun, rank 0 alone measures and records
            return {}
        finalists, study = [], self.study
        for rank, (arch, figures) in enumerate(best_architectures(study, self.config.top_k), start=1):
            folder = self.out / "standalone" / f"{rank}-{arch.id}"
            if not (folder / "result.json").exists():
                raise RunDirError(f"finalist #{rank} was trained elsewhere and {folder} is not here",
                                  hint="put the run folder on a file system all machines share")
            if current_world().size == 1:
                self._train(rank, arch)  # a result.json damaged since it was trained: computed again
            result = read_finalist(folder)
            latency = ort_latency_ms(folder, self.split("val").images) if self.needs_latency else None
            finalists.append({"rank": rank, "dir": self.path(folder), "one_shot": figures, **_figures(result),
                              "latency_ms": latency})
        record_finalists(study, self.storage, finalists, self.out, self.config.space, self.config.search.objective_cost)
        return {"finalists": finalists}

    def train_claimed(self) -> int:
        """Train the finalists no other machine has claimed, and wait for the ones they train.

        The claims are the queued trials of the study ``<study>-finalists-<ids>`` (one slot per
        finalist; claimed, kept alive and redone as the search's trials are, ``search/_study.py``).
        Under torchrun, rank 0 claims and every process trains. Returns how many were trained here."""
        world, chosen = current_world(), best_architectures(self.study, self.config.top_k)

        def train(rank: int) -> float:
            arch = chosen[rank - 1][0]
            return read_finalist(self._train(rank, arch))["val"]["accuracy"]

        if not world.main:
            while (rank := world.share(None)) is not None:
                train(rank)
            return 0
        ids = ",".join(arch.id for arch, _ in chosen)
        queue = open_study(self.storage, f"{self.study.study_name}-finalists-{sha256(ids.encode()).hexdigest()[:8]}",
                           ["maximize"])
        plan_trials(queue, len(chosen), lambda slot: {"rank": slot + 1, "arch_id": chosen[slot][0].id})
        trained = drain(queue, len(chosen), lambda claim: train(world.share(claim.user_attrs["rank"])),
                        wait_s=self.config.search.heartbeat)
        world.share(None)
        return trained

    def _train(self, rank: int, arch) -> Path:
        """Train finalist ``rank`` into its folder (returned) unless its ``result.json`` is there and
        reads; a damaged one is computed again, from the folder's last checkpoint."""
        folder = self.out / "standalone" / f"{rank}-{arch.id}"
        if (folder / "result.json").exists():
            try:
                read_finalist(folder)
                return folder
            except RunDirError as e:
                self.ui.note(f"{e.message}: training {self.path(folder)} again from its checkpoints")
        train_standalone(arch, self.config.standalone, self.split("train"), self.split("val"), folder,
                         test=self.split("test"), resume=True, callbacks=self.ui.trainer(f"train #{rank} {arch.id}"))
        return folder

    def export(self) -> dict:
        """Copy the finalist the pick rule chooses to ``best/`` and export it to ONNX."""
        best, best_dir = self.best, self.out / "best"
        header, rows = finalist_table(self.state["phases"]["train"]["finalists"], best["rank"])
        self.ui.table(f"finalists (deployed: #{best['rank']}, pick rule {self.config.pick})", header, rows)
        record_deployed(self.study, best, self.config.pick, self.out)
        if best_dir.exists():
            shutil.rmtree(best_dir)
        shutil.copytree(self.out / best["dir"], best_dir, ignore=shutil.ignore_patterns("checkpoints"))
        try:
            import nas_export  # optional package
        except ImportError:
            self.ui.note("nas-export is not installed: ONNX export skipped (pip install -e packages/export)")
            return {"onnx": None}
        report = nas_export.export_onnx(best_dir.resolve(), best_dir.resolve() / "model.onnx",
                                       images=self.split("val"), log=self.ui.note)
        return {"onnx": {**_deployment(report), "path": self.path(best_dir / "model.onnx")}}

    def report(self) -> dict:
        """``summary.json``, ``report.md`` and the plots."""
        summary = self.summary()
        atomic_write_json(self.out / "summary.json", summary)
        write_report(self.out, summary, self.study)
        return {}

    @property
    def best(self) -> dict:
        """The finalist deployed: the one ``config.pick`` chooses (``_pick.py``; by default the best
        stand-alone val accuracy, ties: the better one-shot rank)."""
        return pick_finalist(self.state["phases"]["train"]["finalists"], parse_pick(self.config.pick))

    def summary(self) -> dict:
        config, phases, best = self.config, self.state["phases"], self.best
        result = read_finalist(self.out / best["dir"])
        supernet_state = read_state(latest_checkpoint(self.out / "supernet"))
        return {
            "dataset": config.data.dataset, "profile": config.profile, "space": config.space,
            "sampler": config.search.sampler, "trials": config.search.trials, "top_k": config.top_k,
            "cost": config.search.objective_cost, "pick": config.pick,
            "pareto": len(config.search.directions) > 1,  # the finalists are (from) the Pareto front
            "best": {
                "arch": result["arch"], "arch_id": result["arch_id"], "arch_string": result["arch_string"],
                "one_shot_accuracy": best["one_shot"]["one_shot_accuracy"],
                "val_accuracy": best["val_accuracy"], "test_accuracy": best["test_accuracy"],
                "params": best["params"], "flops": best["flops"], "latency_ms": best.get("latency_ms"),
                "rank": best["rank"], "dir": "best",
            },
            "finalists": [{**f, "deployed": f["rank"] == best["rank"]} for f in phases["train"]["finalists"]],
            "latency": LATENCY_SETTINGS,
            "warnings": phases.get("search", {}).get("warnings", []),
            "study": phases.get("search", {}).get("study"),
            "onnx": phases.get("export", {}).get("onnx"),
            "supernet": {"steps": supernet_state["step"], "config": supernet_state["config"]},
            "seconds": {name: phases.get(name, {}).get("seconds") for name in PHASES},
            "device": str(resolve_device(config.search.device)),
            "torch_threads": torch.get_num_threads(),
            "versions": versions(), "git_revision": git_revision(),
            "run_dir": str(self.out.resolve()),
        }


def read_run_state(path: Path) -> dict:
    """``pipeline.json``; a one-line :class:`RunDirError` naming it if it is damaged (for every
    reader of the file: ``Pipeline``, ``run_name``, ``nas search --run``)."""
    try:
        state = read_json(path)
    except UnreadableJson as e:
        raise RunDirError(str(e), hint="use another {out} or {overwrite}") from None
    if not _is_run_state(state):
        raise RunDirError(f"{path} holds no run's state (config and phases)", hint="use another {out} or {overwrite}")
    return state


def _read_summary(path: Path) -> dict | None:
    """``summary.json`` as the report phase wrote it; None if it is missing or damaged."""
    try:
        summary = read_json_object(path)
    except UnreadableJson:
        return None
    return summary if isinstance(summary.get("best"), dict) else None


def _is_run_state(state) -> bool:
    """Whether ``state`` has the shape :meth:`Pipeline._load_state` reads."""
    if not isinstance(state, dict) or not isinstance(state.get("phases"), dict):
        return False
    config = state.get("config")
    return (all(isinstance(p, dict) for p in state["phases"].values()) and isinstance(config, dict)
            and isinstance(config.get("search"), dict) and "trials" in config["search"] and "top_k" in config)


def read_finalist(folder: Path) -> dict:
    """A finalist's ``result.json`` (:func:`~nas_core.train.read_result`) with the figures the
    pipeline reads; a one-line :class:`RunDirError` naming the file if it is damaged."""
    hint = "use another {out} or {overwrite}"
    try:
        result = read_result(folder)
    except RunDirError as e:
        raise RunDirError(e.message, hint=hint) from None
    val, test = result.get("val"), result.get("test")
    missing = [k for k in RESULT_KEYS if k not in result]
    if not missing and not (_has_accuracy(val) and (test is None or _has_accuracy(test))):
        missing = ["val and test accuracy"]
    if missing:
        raise RunDirError(f"{folder / 'result.json'} records no {', '.join(missing)}", hint=hint)
    return result


def _has_accuracy(split) -> bool:
    return isinstance(split, dict) and type(split.get("accuracy")) in (int, float)


def _figures(result: dict) -> dict:
    return {"val_accuracy": result["val"]["accuracy"],
            "test_accuracy": result["test"]["accuracy"] if result["test"] else None,
            "params": result["params"], "flops": result["flops"], "train_seconds": result["train_seconds"]}


def _deployment(report: dict) -> dict:
    """What the summary says of the exported file: where, opset, and the parity figures."""
    parity, fp32 = report["parity"], report["fp32"]
    return {"path": fp32["path"], "opset": report["opset"], "bytes": fp32["bytes"],
            "latency_ms_batch1": fp32["latency_ms_batch1"], "top1_agreement": parity["top1_agreement"],
            "max_abs_diff": parity["max_abs_diff"], "parity_data": parity["data"]}
