"""Train/val splits and class-balanced subsets, fixed by a seed.

``val`` is held out of the training files with the class proportions kept (largest-remainder
rounding), so with the default ``val_fraction=0.1`` CIFAR-10's 50,000 training images split into
exactly 45,000 / 5,000 as in the paper (Bender et al. 2018, Sec. 4), 500 per class. A subset of
``n`` examples takes as equal a number per class as the split allows. Indices come back sorted
(file order): the loader shuffles.

Each use draws from its own generator, derived from ``(seed, purpose)``, so the split does not
change when a subset is asked for and vice versa.
"""

from __future__ import annotations

import hashlib

import torch


def derived_generator(seed: int, purpose: str, device: str | torch.device = "cpu") -> torch.Generator:
    """A generator seeded from ``seed`` and ``purpose`` (independent streams per purpose), on ``device``."""
    key = hashlib.sha256(f"{seed}:{purpose}".encode()).digest()
    return torch.Generator(device).manual_seed(int.from_bytes(key[:8], "little") >> 1)


def train_val_split(labels: torch.Tensor, val_fraction: float, seed: int,
                    num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Disjoint sorted ``(train, val)`` indices into ``labels``; ``val`` has
    ``round(val_fraction * N)`` examples in the class proportions of ``labels``."""
    counts = torch.bincount(labels, minlength=num_classes)
    quota = proportional_quota(counts, round(val_fraction * len(labels)))
    val_mask = pick(labels, quota, derived_generator(seed, "val-split"))
    return val_mask.logical_not().nonzero().flatten(), val_mask.nonzero().flatten()


def balanced_subset(labels: torch.Tensor, n: int, seed: int, purpose: str,
                    num_classes: int) -> torch.Tensor:
    """Sorted indices of ``min(n, N)`` examples, as equally many per class as possible."""
    counts = torch.bincount(labels, minlength=num_classes)
    quota = balanced_quota(counts, min(n, len(labels)))
    return pick(labels, quota, derived_generator(seed, purpose)).nonzero().flatten()


def split_subset(labels: torch.Tensor, n: int, seed: int, split: str, num_classes: int) -> torch.Tensor:
    """The class-balanced subset of ``n`` a split keeps (``load_data(subset=n)``,
    ``ImageData.subset``): one stream per split, so a smaller subset lies inside a larger one."""
    return balanced_subset(labels, n, seed, f"subset-{split}", num_classes)


def pick(labels: torch.Tensor, quota: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Boolean mask choosing ``quota[c]`` random examples of each class ``c``."""
    n = len(labels)
    perm = torch.randperm(n, generator=gen)
    order = perm[torch.argsort(labels[perm], stable=True)]  # grouped by class, shuffled within
    grouped = labels[order]
    counts = torch.bincount(labels, minlength=len(quota))
    starts = counts.cumsum(0) - counts
    rank = torch.arange(n) - starts[grouped]  # position of each example within its class
    mask = torch.zeros(n, dtype=torch.bool)
    mask[order[rank < quota[grouped]]] = True
    return mask


def proportional_quota(counts: torch.Tensor, k: int) -> torch.Tensor:
    """``k`` split over classes in proportion to ``counts`` (largest remainder, ties to the
    lower class index); sums to ``k``."""
    exact = counts.double() * k / max(int(counts.sum()), 1)
    quota = exact.floor().long()
    short = k - int(quota.sum())
    order = torch.argsort(quota.double() - exact, stable=True)  # largest remainder first
    quota[order[:short]] += 1
    return quota


def balanced_quota(counts: torch.Tensor, k: int) -> torch.Tensor:
    """``k`` split as equally as possible over classes, none above its count: every class gets
    ``min(count, level)`` for the highest level that fits, and the rest goes one each to the
    lowest-indexed classes that have more."""
    k = min(k, int(counts.sum()))
    low, high = 0, int(counts.max()) if len(counts) else 0
    while low < high:  # binary search for the level
        mid = (low + high + 1) // 2
        low, high = (mid, high) if int(counts.clamp(max=mid).sum()) <= k else (low, mid - 1)
    quota = counts.clamp(max=low)
    more = (counts > low).nonzero().flatten()[:k - int(quota.sum())]
    quota[more] += 1
    return quota
