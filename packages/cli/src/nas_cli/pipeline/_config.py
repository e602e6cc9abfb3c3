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
from functools import partial

from nas_core.data import DataSpec
from nas_core.errors import InputError
from nas_core.train import StandaloneConfig, SupernetConfig

from ..search import SearchConfig
from ._pick import parse_pick

# What can run (the training settings are bounded in nas_core.train.config): larger values are
# refused up front, never tried.
IMAGE_SIZES = (8, 512)  # pixels of the (square) images the networks see
MAX_TRIALS = 10**6  # architectures scored by one search
MAX_WORKERS = 1024  # search processes on one machine

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
        check_image_size(self.data.image_size)
        if self.search.trials > MAX_TRIALS:
            raise InputError(f"{self.search.trials:,} trials asked for", hint=f"give {{trials}} up to {MAX_TRIALS:,}")
        if self.search.workers > MAX_WORKERS:
            raise InputError(f"{self.search.workers:,} search processes asked for",
                             hint=f"give {{workers}} up to {MAX_WORKERS:,}")
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
        """The inverse of :meth:`to_dict`. A training part's failed check is an :class:`InputError`
        that names the part, and its settings as keys of the run's (``supernet: batch_size 48 must
        be a multiple of ghost_batch 32: choose supernet.batch_size and supernet.ghost_batch``)."""
        parts = {}
        for name, part in PARTS.items():
            try:
                parts[name] = part(**settings[name])
            except InputError as e:
                if name not in ("supernet", "standalone"):  # their hints name the run's own options
                    raise
                raise InputError(f"{name}: {e.render(partial(_setting, name))}") from None
        return cls(**{**settings, **parts})


def _setting(part: str, key: str, value: str | None) -> str:
    """A setting of a training part named in advice as in a config file: ``supernet.lr``."""
    return f"{part}.{key}" + (f"={value}" if value is not None else "")


# The parts of a RunConfig, by field name (the sections of a config file, see _toml.py).
PARTS: dict[str, type] = {"data": DataSpec, "supernet": SupernetConfig, "search": SearchConfig,
                          "standalone": StandaloneConfig}


def check_image_size(image_size: int | None) -> None:
    """Refuse an image size outside :data:`IMAGE_SIZES` (None: the data set's own size)."""
    low, high = IMAGE_SIZES
    if image_size is not None and not low <= image_size <= high:
        raise InputError(f"images of {image_size} pixels asked for", hint=f"give {{image_size}} from {low} to {high}")


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
