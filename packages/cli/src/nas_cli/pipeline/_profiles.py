"""Profiles of `nas run`: every setting of the pipeline, chosen together.

- ``quick``: a CPU demo on a Fashion-MNIST subset, small width, a few epochs (budget: <= 4
  minutes and <= 3 GB on a 2-core CPU; see docs/benchmarks.md for the measured figures).
- ``smoke``: synthetic data and the ``tiny`` space, seconds: checks an installation (and the tests).
- ``paper``: CIFAR-10 with the paper's 45k/5k split, F = 32 and the paper's schedule (5,000 steps
  of batch 1,024, learning rate 0.1 per 1,024 examples, cosine decay), for a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from nas_core.train import StandaloneConfig, SupernetConfig


@dataclass(frozen=True)
class Profile:
    name: str
    dataset: str
    subsets: dict  # split -> examples kept (class-balanced), None for all
    supernet: SupernetConfig
    trials: int  # architectures scored
    top_k: int  # best architectures trained from scratch
    standalone: StandaloneConfig


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        dataset="fashion-mnist",
        subsets={"train": 5000, "val": 1000, "test": 1000},
        supernet=SupernetConfig(space="bender2018", width=8, cells_per_stack=1, epochs=2, batch_size=64,
                                ghost_batch=32, lr=0.2, dropout_rate=0.1, log_every=5, checkpoint_every=50),
        trials=30,
        top_k=2,
        standalone=StandaloneConfig(width=8, cells_per_stack=1, epochs=3, batch_size=64, lr=0.2,
                                    log_every=5, checkpoint_every=100),
    ),
    # A seconds-long check that everything is wired up (synthetic data, the tiny space): tests, CI.
    "smoke": Profile(
        name="smoke",
        dataset="synthetic",
        subsets={"train": 320, "val": 100, "test": 100},
        supernet=SupernetConfig(space="tiny", width=4, cells_per_stack=1, steps=8, batch_size=32,
                                ghost_batch=16, lr=0.4, log_every=4, checkpoint_every=4),
        trials=6,
        top_k=2,
        standalone=StandaloneConfig(width=4, cells_per_stack=1, steps=8, batch_size=32, lr=0.4,
                                    log_every=4, checkpoint_every=4),
    ),
    "paper": Profile(
        name="paper",
        dataset="cifar10",
        subsets={"train": None, "val": None, "test": None},
        # 5,000 steps x 1,024 examples (~114 epochs of 45k); lr 0.1 per 1,024 = 0.025 per 256.
        supernet=SupernetConfig(space="bender2018", width=32, cells_per_stack=2, steps=5000, batch_size=1024,
                                ghost_batch=32, lr=0.025, weight_decay=1e-4, dropout_rate=0.1,
                                log_every=20, checkpoint_every=250),
        trials=2000,
        top_k=10,
        standalone=StandaloneConfig(width=32, cells_per_stack=2, epochs=200, batch_size=256, lr=0.1,
                                    weight_decay=3e-4, cutout=16, drop_path=0.2, label_smoothing=0.0,
                                    log_every=50, checkpoint_every=1000),
    ),
}


def get_profile(name: str, seed: int = 0, device: str = "auto") -> Profile:
    try:
        profile = PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r} (known: {', '.join(PROFILES)})") from None
    return replace(profile, supernet=replace(profile.supernet, seed=seed, device=device),
                   standalone=replace(profile.standalone, seed=seed, device=device))
