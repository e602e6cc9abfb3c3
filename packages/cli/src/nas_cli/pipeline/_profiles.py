"""Profiles of `nas run`: named base settings; :func:`load_run_config`, which applies a config
file, overrides and a command's options to one, and :func:`run_config` (options only).

- ``quick``: a CPU demo on a Fashion-MNIST subset, small width, a few epochs (budget: <= 4
  minutes and <= 3 GB on a 2-core CPU; see docs/benchmarks.md for the measured figures).
- ``cpu``: CIFAR-10 on a CPU in under 45 minutes (2 cores): a 20,000-image train subset, the
  whole 10,000-image val split (val fraction 0.2) for the stand-alone figures. The one-shot model
  sees 10,000 images and trials are scored on 1,000 val images because the measured curve is flat
  (docs/results.md, "Ranking on a CPU budget": 10k to 200k images seen, 1,000 or 5,000 scoring
  images, and the levers, all rank within one another's intervals), so the cheapest point is kept.
- ``smoke``: synthetic data and the ``tiny`` space, seconds: checks an installation (and the tests).
- ``paper``: CIFAR-10 with the paper's 45k/5k split, F = 32 and the paper's schedule (5,000 steps
  of batch 1,024, learning rate 0.1 per 1,024 examples, cosine decay), for a GPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nas_core.data import DataSpec
from nas_core.errors import InputError
from nas_core.train import StandaloneConfig, SupernetConfig

from ..search import SearchConfig
from ._config import RunConfig
from ._toml import merge, nest, parse_override, read_toml

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
    "cpu": RunConfig(
        profile="cpu",
        data=DataSpec("cifar10", subsets={"train": 20000}, val_fraction=0.2),
        supernet=SupernetConfig(space="bender2018", width=8, cells_per_stack=1, epochs=0.5, batch_size=64,
                                ghost_batch=32, lr=0.2, dropout_rate=0.1, log_every=10, checkpoint_every=100),
        search=SearchConfig(trials=100, score_images=1000),
        standalone=StandaloneConfig(width=8, cells_per_stack=1, epochs=2, batch_size=64, lr=0.2,
                                    log_every=10, checkpoint_every=100),
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
    except (KeyError, TypeError):  # TypeError: a config file's profile = {...}
        raise InputError(f"unknown profile {name!r}", hint=f"choose {{profile}} from {', '.join(PROFILES)}") from None


# The named options of `nas run` (and of :func:`run_config`): the settings each one sets.
OPTIONS: dict[str, tuple[str, ...]] = {
    "dataset": ("data.dataset",),
    "data_dir": ("data.data_dir",),
    "subset": ("data.subsets",),  # examples kept of every split
    "image_size": ("data.image_size",),
    "space": ("supernet.space",),
    "supernet_epochs": ("supernet.epochs",),
    "dropout_rate": ("supernet.dropout_rate",),
    "ghost_batch": ("supernet.ghost_batch",),
    "width": ("supernet.width", "standalone.width"),
    "batch_size": ("supernet.batch_size", "standalone.batch_size"),
    "sampler": ("search.sampler",),
    "trials": ("search.trials",),
    "cost": ("search.cost",),
    "workers": ("search.workers",),
    "storage": ("search.storage",),
    "study": ("search.study",),
    "standalone_epochs": ("standalone.epochs",),
    "top_k": ("top_k",),
    "pick": ("pick",),
    "seed": ("data.seed", "supernet.seed", "search.seed", "standalone.seed"),
    "device": ("supernet.device", "search.device", "standalone.device"),
}


def load_run_config(path: str | Path | None = None, overrides: Sequence[str] = (), *, profile: str | None = None,
                    run_name: str | None = None, **options) -> RunConfig:
    """The settings of a run, in layers, each over the one before:

    1. the profile: ``profile``, else the last override's or the file's ``profile`` key, else quick;
    2. ``run_name``, the Optuna study's name (``nas run``: the run folder's name);
    3. the TOML file at ``path`` (see ``_toml.py``);
    4. ``overrides``, ``"section.key=value"`` strings, in order;
    5. ``options``, named in :data:`OPTIONS` (None: not given).

    Unknown keys and values of the wrong type are :class:`InputError` s that name the key."""
    layers = [(read_toml(path), str(path))] if path is not None else []
    layers += [(parse_override(text), "") for text in overrides]
    layers.append((_option_layer(options), ""))
    named = [layer["profile"] for layer, _ in layers if "profile" in layer]
    base = get_profile(profile if profile is not None else (named[-1] if named else "quick"))
    settings = base.to_dict()
    if run_name:
        settings["search"]["study"] = run_name
    for layer, source in layers:
        merge(settings, layer, source)
    settings["profile"] = base.profile
    return RunConfig.from_dict(settings)


def _option_layer(options: dict) -> dict:
    layer: dict = {}
    for name, value in options.items():
        if name not in OPTIONS:
            raise TypeError(f"unknown option {name!r}; known: {', '.join(OPTIONS)}")
        if value is None:
            continue
        if name == "subset":
            value = DataSpec.with_subset(value).subsets
        for dotted in OPTIONS[name]:
            nest(layer, dotted.split("."), value)
    return layer


def run_config(profile: str = "quick", **options) -> RunConfig:
    """The profile's settings with ``options`` (named in :data:`OPTIONS`) applied, each to the
    config it belongs to; None keeps the profile's value. ``seed`` and ``device`` reach every part:
    ``run_config("quick", trials=50, dropout_rate=0.2)``."""
    return load_run_config(profile=profile, **options)
