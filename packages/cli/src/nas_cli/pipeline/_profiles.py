"""Profiles of `nas run`: named base settings, and :func:`run_config`, which applies a command's
options to one.

- ``quick``: a CPU demo on a Fashion-MNIST subset, small width, a few epochs (budget: <= 4
  minutes and <= 3 GB on a 2-core CPU; see docs/benchmarks.md for the measured figures).
- ``smoke``: synthetic data and the ``tiny`` space, seconds: checks an installation (and the tests).
- ``paper``: CIFAR-10 with the paper's 45k/5k split, F = 32 and the paper's schedule (5,000 steps
  of batch 1,024, learning rate 0.1 per 1,024 examples, cosine decay), for a GPU.
"""

from __future__ import annotations

from dataclasses import replace

from nas_core.data import DataSpec
from nas_core.errors import InputError
from nas_core.train import StandaloneConfig, SupernetConfig

from ..search import SearchConfig
from ._config import RunConfig

PROFILES: dict[str, RunConfig] = {
    "quick": RunConfig(
        profile="quick",
        data=DataSpec("fashion-mnist", subsets={"train": 5000, "val": 1000, "test": 1000}),
        supernet=SupernetConfig(space="bender2018", width=8, cells_per_stack=1, epochs=2, batch_size=64,
                                ghost_batch=32, lr=0.2, dropout_rate=0.1, log_every=5, checkpoint_every=50),
        search=SearchConfig(trials=30),
        standalone=StandaloneConfig(width=8, cells_per_stack=1, epochs=3, batch_size=64, lr=0.2,
                                    log_every=5, checkpoint_every=100),
        top_k=2,
    ),
    # A seconds-long check that everything is wired up (synthetic data, the tiny space): tests, CI.
    "smoke": RunConfig(
        profile="smoke",
        data=DataSpec("synthetic", subsets={"train": 320, "val": 100, "test": 100}),
        supernet=SupernetConfig(space="tiny", width=4, cells_per_stack=1, steps=8, batch_size=32,
                                ghost_batch=16, lr=0.4, log_every=4, checkpoint_every=4),
        search=SearchConfig(trials=6),
        standalone=StandaloneConfig(width=4, cells_per_stack=1, steps=8, batch_size=32, lr=0.4,
                                    log_every=4, checkpoint_every=4),
        top_k=2,
    ),
    "paper": RunConfig(
        profile="paper",
        data=DataSpec("cifar10"),
        # 5,000 steps x 1,024 examples (~114 epochs of 45k); lr 0.1 per 1,024 = 0.025 per 256.
        supernet=SupernetConfig(space="bender2018", width=32, cells_per_stack=2, steps=5000, batch_size=1024,
                                ghost_batch=32, lr=0.025, weight_decay=1e-4, dropout_rate=0.1,
                                log_every=20, checkpoint_every=250),
        search=SearchConfig(trials=2000),
        standalone=StandaloneConfig(width=32, cells_per_stack=2, epochs=200, batch_size=256, lr=0.1,
                                    weight_decay=3e-4, cutout=16, drop_path=0.2, label_smoothing=0.0,
                                    log_every=50, checkpoint_every=1000),
        top_k=10,
    ),
}


def get_profile(name: str) -> RunConfig:
    """The base settings called ``name``."""
    try:
        return PROFILES[name]
    except KeyError:
        raise InputError(f"unknown profile {name!r}", hint=f"choose {{profile}} from {', '.join(PROFILES)}") from None


def run_config(profile: str = "quick", *, dataset: str | None = None, data_dir: str | None = None,
               space: str | None = None, sampler: str = "random", trials: int | None = None,
               top_k: int | None = None, cost: str | None = None, seed: int = 0, workers: int = 1,
               storage: str | None = None, study: str = "oneshot", device: str = "auto",
               pick: str = "accuracy") -> RunConfig:
    """The profile's settings with the given options applied, each to the one config it belongs to.
    ``None`` keeps the profile's value; ``seed`` and ``device`` reach every part."""
    base = get_profile(profile)
    data = replace(base.data, dataset=dataset or base.data.dataset, data_dir=data_dir, seed=seed)
    supernet = replace(base.supernet, space=space or base.supernet.space, seed=seed, device=device)
    search = replace(base.search, sampler=sampler, trials=base.search.trials if trials is None else trials,
                     cost=cost, seed=seed, workers=workers, storage=storage, study=study, device=device)
    standalone = replace(base.standalone, seed=seed, device=device)
    return replace(base, data=data, supernet=supernet, search=search, standalone=standalone,
                   top_k=base.top_k if top_k is None else top_k, pick=pick)
