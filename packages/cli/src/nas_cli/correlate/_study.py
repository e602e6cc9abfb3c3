"""Does one-shot accuracy rank architectures like training them from scratch does?

Paper: Bender et al. 2018, Sec. 4 (Fig. 3-5: one-shot vs stand-alone accuracy of sampled
architectures) and Sec. 5 (the KL divergence to the all-paths model). One run:

1. **pool**: ``pool`` architectures drawn uniformly (seeded), each scored by every one-shot model
   (cached in ``OUT/scores/oneshot-<i>.jsonl``) on ``score_images`` val images (default: the whole
   val split), with evaluation-batch statistics (the paper) or ``score_mode="recalibrate"``, and
   with the moving average of the weights where ``ema``;
2. **sample**: ``archs`` of them, the first ``archs`` of the pool (a uniform random sample) or,
   with ``stratify``, spread evenly over the range of the *first* one-shot model's accuracies,
   as in the paper;
3. **train**: each sampled architecture trained from scratch ``seeds`` times, plus each one-shot
   model's best architecture of the pool (what a search would return), into
   ``STANDALONE/<arch id>-s<seed>``; a folder with a ``result.json`` is never trained again (a damaged one is
   computed again from the folder's last checkpoint), so an interrupted run continues, and runs
   that share ``STANDALONE`` share the trainings, at the same time too (each training holds its
   folder's lock; a study waits for the trainings another one holds);
4. **analyse** (``_analysis.py``) and write ``correlation.json`` and the scatter plots.

Several one-shot models (seeds, or the dropout rates of ``nas ablate dropout``) are compared
against the same stand-alone results.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from nas_core import Architecture, Scorer
from nas_core.analysis import kl_to_full_model
from nas_core.data import DataSpec, DeviceLoader, ImageData
from nas_core.errors import InputError
from nas_core.scoring import MODES
from nas_core.stats import stratified_indices
from nas_core.train import (
    Callback,
    RunDirError,
    StandaloneConfig,
    atomic_write_json,
    guard_settings,
    latest_checkpoint,
    load_supernet,
    read_result,
    read_state,
    require_same,
    resolve_device,
    train_standalone,
)

from .._lock import FolderInUse, run_lock
from ..search import supernet_fingerprint
from ._analysis import analyse
from ._plots import write_plots

# What one study can run: beyond these it would not end (or not fit in memory).
MAX_POOL = 100_000  # architectures scored by each one-shot model
MAX_SEEDS = 100  # stand-alone trainings per architecture
MAX_KL_EXAMPLES = 1_000_000  # training images of the KL analysis (at most the split's anyway)
MAX_BOOTSTRAP = 100_000  # bootstrap resamples per interval
MAX_SCORE_IMAGES = 10**9  # val images per score (at most the split's anyway)


@dataclass(frozen=True)
class CorrelateConfig:
    archs: int = 24  # M: architectures trained from scratch
    pool: int = 100  # architectures scored by every one-shot model (the sample is drawn from it)
    stratify: bool = False  # spread the sample over the first model's one-shot accuracy (Sec. 4)
    seeds: int = 1  # stand-alone trainings per architecture (their mean accuracy is used)
    kl_examples: int = 500  # training examples for the KL analysis (Sec. 5)
    top_fraction: float = 0.1  # top-k precision: the best 10% by one-shot vs by stand-alone
    bootstrap: int = 1000  # bootstrap resamples for the 95% confidence intervals
    seed: int = 0  # seeds the pool, the stratified draw and the bootstrap
    batch_size: int = 500  # evaluation batch (one-shot scoring, KL)
    device: str = "auto"
    score_images: int | None = None  # val images for one-shot scoring, class-balanced (None: all)
    score_mode: str = "batch-stats"  # or "recalibrate": batch norm re-estimated on training data
    ema: bool = False  # score with the moving average of the one-shot weights (trained with ema_decay)

    def __post_init__(self) -> None:
        if self.archs < 3:
            raise InputError(f"{self.archs} architectures are too few for a rank correlation",
                             hint="give {archs} of at least 3")
        bounds = (("archs", self.archs, 3, MAX_POOL), ("pool", self.pool, 3, MAX_POOL),
                  ("seeds", self.seeds, 1, MAX_SEEDS), ("kl_examples", self.kl_examples, 1, MAX_KL_EXAMPLES),
                  ("bootstrap", self.bootstrap, 1, MAX_BOOTSTRAP))
        if self.score_images is not None:
            bounds += (("score_images", self.score_images, 1, MAX_SCORE_IMAGES),)
        for name, value, least, most in bounds:
            if not least <= value <= most:
                raise InputError(f"{name} {value:,} is out of range", hint=f"give {{{name}}} from {least} to {most:,}")
        if self.score_mode not in MODES:
            raise InputError(f"unknown scoring mode {self.score_mode!r}",
                             hint=f"choose {{score_mode}} from {', '.join(MODES)}")
        if self.pool < self.archs:
            raise InputError(f"a pool of {self.pool} cannot hold a sample of {self.archs}",
                             hint="give a {pool} of at least {archs}")
        if not 0 < self.top_fraction <= 1:
            raise InputError(f"top fraction {self.top_fraction} is not in (0, 1]", hint="give {top_fraction} in (0, 1]")


# What must match for an output folder to be continued: the rest may change between runs.
IDENTITY = ("pool", "stratify", "seed", "score_images", "score_mode", "ema")


class CorrelateUI:
    """What a correlation run reports; the CLI draws it with rich, tests stay silent."""

    def note(self, message: str) -> None: ...

    def scoring(self, label: str, done: int, total: int) -> None: ...

    def training(self, done: int, total: int, title: str) -> list[Callback]:
        return []


@dataclass(frozen=True)
class OneShotModelSpec:
    """A trained one-shot model taking part, with the label it has in tables and plots."""

    dir: str
    label: str
    info: dict = field(default_factory=dict)  # e.g. {"dropout_rate": 0.1, "seed": 0}


def run_correlation(out: str | Path, supernets: list[OneShotModelSpec], data: DataSpec,
                    standalone: StandaloneConfig, config: CorrelateConfig, *,
                    standalone_dir: str | Path | None = None, ui: CorrelateUI | None = None) -> dict:
    """Run (or continue) the whole study; returns what is written to ``OUT/correlation.json``."""
    out, ui = Path(out), ui or CorrelateUI()
    if not supernets:
        raise InputError("no one-shot model to correlate", hint="give at least one {supernet}")
    standalone_dir = Path(standalone_dir) if standalone_dir else out / "standalone"
    out.mkdir(parents=True, exist_ok=True)
    train, val = data.load("train", ui.note), data.load("val", ui.note)
    scoring = val.subset(config.score_images, data.seed) if config.score_images else val
    models = [_load(spec, train, config) for spec in supernets]
    _check_identity(out, supernets, config)  # (written once data and models are known good)
    _check_standalone_dir(standalone_dir, standalone, data)  # (before hours of scoring, not after)
    space = models[0].space
    pool = _pool(space, config)
    scores = [_score_all(out, i, spec, model, scoring, train, pool, config, ui)
              for i, (spec, model) in enumerate(zip(supernets, models))]
    sample = _sample(scores[0], config)
    chosen = [pool[i] for i in sample]
    best = [pool[_pick(s)] for s in scores]
    to_train = list(dict.fromkeys(chosen + best))  # sample first; the searches' picks after
    results = _train_all(to_train, standalone, config.seeds, train, val, standalone_dir, ui)
    kl = [_kl(model, chosen, train, config) for model in models]
    report = analyse(supernets, pool, scores, sample, best, results, kl, config)
    report.update(config=asdict(config), standalone=standalone.to_dict(), data=asdict(data),
                  standalone_dir=str(standalone_dir))
    atomic_write_json(out / "correlation.json", report)  # the figures are safe before plotting starts
    try:
        report["plots"] = [str(p) for p in write_plots(out, report)]
    except ImportError:
        ui.note("matplotlib is not installed: plots skipped (pip install 'nas-cli[plots]')")
    atomic_write_json(out / "correlation.json", report)
    return report


def _check_identity(out: Path, supernets: list[OneShotModelSpec], config: CorrelateConfig) -> None:
    """Refuse to mix a new study into the cached scores of another one."""
    guard_settings(out / "study.json", {"supernets": [str(Path(s.dir).resolve()) for s in supernets],
                                        **{k: getattr(config, k) for k in IDENTITY}},
                   what="a study", hint="use another {out}")


def _load(spec: OneShotModelSpec, train: ImageData, config: CorrelateConfig):
    model = load_supernet(spec.dir, resolve_device(config.device), ema=config.ema)
    keys = ("name", "size", "classes", "shape")
    trained_on, here = read_state(latest_checkpoint(spec.dir))["data"], train.info()
    require_same({"data": {k: trained_on.get(k) for k in keys}}, {"data": {k: here[k] for k in keys}},
                 where=spec.dir, what="a one-shot model",
                 hint="pass the same {dataset} and {profile} it was trained with")
    return model


def _pool(space, config: CorrelateConfig) -> list[Architecture]:
    """``pool`` distinct architectures drawn uniformly with a seeded generator."""
    gen = torch.Generator().manual_seed(config.seed)
    archs: dict[str, Architecture] = {}
    for _ in range(100 * config.pool):
        arch = space.sample(gen)
        archs.setdefault(arch.id, arch)
        if len(archs) == config.pool:
            return list(archs.values())
    raise InputError(f"the space {space.name!r} holds fewer than {config.pool} architectures", hint="lower {pool}")


def _score_all(out: Path, index: int, spec: OneShotModelSpec, model, val: ImageData, train: ImageData,
               pool: list[Architecture], config: CorrelateConfig, ui: CorrelateUI) -> list[dict]:
    model_id = supernet_fingerprint(spec.dir) + (":ema" if config.ema else "")
    scorer = Scorer(model, val, batch_size=config.batch_size, mode=config.score_mode, train=train,
                    cache_file=out / "scores" / f"oneshot-{index}.jsonl", model_id=model_id)
    scores = []
    for n, arch in enumerate(pool):
        ui.scoring(spec.label, n, len(pool))
        scores.append(scorer(arch).to_dict())
    ui.scoring(spec.label, len(pool), len(pool))
    return scores


def _pick(scores: list[dict]) -> int:
    """The index of a search's pick: the best one-shot accuracy of the pool (the first on ties)."""
    return max(range(len(scores)), key=lambda i: (scores[i]["accuracy"], -i))


def _sample(scores: list[dict], config: CorrelateConfig) -> list[int]:
    """Indices into the pool: stratified over one-shot accuracy, or simply the first ``archs``."""
    if config.stratify:
        return stratified_indices([s["accuracy"] for s in scores], config.archs, seed=config.seed)
    return list(range(config.archs))


WAIT_SECONDS = 10.0  # between looks at trainings another command holds


def _train_all(archs: list[Architecture], standalone: StandaloneConfig, seeds: int, train: ImageData,
               val: ImageData, folder: Path, ui: CorrelateUI) -> dict[str, list[dict]]:
    """Stand-alone results per architecture id (one per seed); finished trainings are reused.

    Each training holds its folder's lock (:func:`~nas_cli._lock.run_lock`) while it runs, so
    studies that share ``folder`` at the same time never train one network twice: a training
    another command holds is left to it, and its result read once it is finished. (The folder's
    settings are checked by the caller, before the scoring.)"""
    jobs = [(arch, s) for arch in archs for s in range(standalone.seed, standalone.seed + seeds)]
    found: dict[tuple[str, int], dict] = {}
    pending = list(enumerate(jobs))
    while pending:
        held = []
        for n, (arch, seed) in pending:
            result = _train_one(arch, replace(standalone, seed=seed), train, val, folder, ui, n, len(jobs))
            if result is None:
                held.append((n, (arch, seed)))
            else:
                found[arch.id, seed] = result
        if held:
            ui.note(f"{len(held)} stand-alone training(s) in use by another command: waiting for them")
            time.sleep(WAIT_SECONDS)
        pending = held
    ui.training(len(jobs), len(jobs), "")
    results: dict[str, list[dict]] = {}
    for arch, seed in jobs:
        results.setdefault(arch.id, []).append(found[arch.id, seed])
    return results


def _train_one(arch: Architecture, standalone: StandaloneConfig, train: ImageData, val: ImageData,
               folder: Path, ui: CorrelateUI, n: int, total: int) -> dict | None:
    """The result of one stand-alone training, trained here if need be; None while another
    command holds its folder."""
    run_dir = folder / f"{arch.id}-s{standalone.seed}"
    result = _finished(run_dir, ui)
    if result is not None:
        return result
    try:
        with run_lock(run_dir, "nas correlate"):
            result = _finished(run_dir, CorrelateUI())  # (finished by the holder we waited for?)
            if result is None:
                callbacks = ui.training(n, total, f"{arch.id} seed {standalone.seed}")
                train_standalone(arch, standalone, train, val, run_dir, resume=True, callbacks=callbacks)
                result = read_result(run_dir)
    except FolderInUse:
        return None
    return result


def _finished(run_dir: Path, ui: CorrelateUI) -> dict | None:
    """The ``result.json`` of a finished stand-alone training; None if there is none, or if it is
    damaged (then the training is run again, from its last checkpoint: a re-evaluation)."""
    if not (run_dir / "result.json").exists():
        return None
    try:
        result = read_result(run_dir)
    except RunDirError as e:
        ui.note(f"{e.message}: training again from its checkpoints")
        return None
    val = result.get("val")
    if isinstance(val, dict) and type(val.get("accuracy")) in (int, float):
        return result
    ui.note(f"{run_dir / 'result.json'} records no val accuracy: training again from its checkpoints")
    return None


def _check_standalone_dir(folder: Path, standalone: StandaloneConfig, data: DataSpec) -> None:
    """Stand-alone results are shared only between runs that train them identically."""
    settings = {"standalone": {k: v for k, v in standalone.to_dict().items() if k not in ("seed", "device")},
                "data": asdict(data)}
    guard_settings(folder / "settings.json", settings, what="stand-alone results", hint="use another {standalone_dir}")


def _kl(model, archs: list[Architecture], train: ImageData, config: CorrelateConfig) -> list[float]:
    """Sec. 5: symmetric KL to the all-paths model on the first ``kl_examples`` training images."""
    device = next(model.parameters()).device
    n = min(config.kl_examples, len(train))
    images, _ = next(iter(DeviceLoader(train, n, train=False, device=device)))
    images = images.contiguous(memory_format=torch.channels_last)  # as the model was trained
    return kl_to_full_model(model, archs, images, batch_size=config.batch_size)
