"""The settings of one `nas run`: one frozen value composed of the configs of its parts.

A setting has exactly one home. The path-dropout rate, for example, lives in
``RunConfig.supernet.dropout_rate`` (a :class:`~nas_core.train.SupernetConfig`), the number of
trials in ``RunConfig.search.trials`` (a :class:`~nas_cli.search.SearchConfig`), the data in
``RunConfig.data`` (a :class:`~nas_core.data.DataSpec`). Profiles (``_profiles.py``) are named
``RunConfig`` values; :func:`~nas_cli.pipeline.run_config` applies a command's options to one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from nas_core.data import DataSpec
from nas_core.errors import InputError
from nas_core.train import StandaloneConfig, SupernetConfig

from ..search import SearchConfig
from ._pick import parse_pick

# Settings that may change when a run directory is continued; every other one must match.
MAY_CHANGE = ("top_k", "pick", "data.data_dir", "search.sampler", "search.trials", "search.workers", "search.storage",
              "search.study", "search.heartbeat", "search.device", "supernet.device", "standalone.device")


@dataclass(frozen=True)
class RunConfig:
    profile: str  # name of the base settings (see _profiles.py)
    data: DataSpec  # the data set, its splits and subsets
    supernet: SupernetConfig  # phase 1: the one-shot model (its ``space`` is the search space)
    search: SearchConfig  # phase 2: sampler, trials, cost objective, workers, study
    standalone: StandaloneConfig  # phase 3: training the finalists from scratch
    top_k: int  # finalists: the best architectures trained from scratch
    pick: str = "accuracy"  # which finalist is deployed (see _pick.py)

    def __post_init__(self) -> None:
        parse_pick(self.pick)
        if not 1 <= self.top_k <= self.search.trials:
            raise InputError(f"{self.top_k} finalists asked for, out of {self.search.trials} trials",
                             hint="choose {top_k} between 1 and {trials}")

    @property
    def space(self) -> str:
        return self.supernet.space

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, settings: dict) -> RunConfig:
        """The inverse of :meth:`to_dict`. A part's failed check is an :class:`InputError` that
        names the part (``supernet: batch_size 48 must be a multiple of ghost_batch 32``)."""
        parts = {}
        for name, part in PARTS.items():
            try:
                parts[name] = part(**settings[name])
            except InputError:
                raise
            except ValueError as e:  # TrainConfig's checks raise plain ValueErrors
                raise InputError(f"{name}: {e}") from None
        return cls(**{**settings, **parts})


# The parts of a RunConfig, by field name (the sections of a config file, see _toml.py).
PARTS: dict[str, type] = {"data": DataSpec, "supernet": SupernetConfig, "search": SearchConfig,
                          "standalone": StandaloneConfig}


def data_caps(data: DataSpec) -> str:
    """How ``data`` caps its data set, for a run's header: ``5,000 train / 1,000 val / 1,000 test
    images, 28 px``; empty if it uses every image at the data set's own size."""
    caps = []
    if data.subsets:
        caps.append(" / ".join(f"{n:,} {split}" for split, n in data.subsets.items()) + " images")
    if data.image_size is not None:
        caps.append(f"{data.image_size} px")
    return ", ".join(caps)


def identity(settings: dict) -> dict:
    """Of a :meth:`RunConfig.to_dict`, the settings a run directory must have been started with
    to be continued (all but :data:`MAY_CHANGE`)."""
    settings = json.loads(json.dumps(settings))  # a deep copy
    for dotted in MAY_CHANGE:
        *parents, key = dotted.split(".")
        part = settings
        for name in parents:
            part = part.get(name, {})
        part.pop(key, None)
    return settings
