"""Train/val splits and class-balanced subsets (``_splits.py``), directly and through
``load_data``."""

from __future__ import annotations

import pytest
import torch

from nas_core.data import DataError, load_data
from nas_core.data._splits import (
    balanced_quota,
    balanced_subset,
    proportional_quota,
    train_val_split,
)


def fingerprints(images: torch.Tensor) -> set[int]:
    """One int per image (a random projection of its pixels), to compare sets of images."""
    weights = torch.randint(0, 2**20, (images[0].numel(),), generator=torch.Generator().manual_seed(0))
    return set((images.reshape(len(images), -1).long() @ weights).tolist())


def test_quotas():
    counts = torch.tensor([100, 50, 7, 0])
    assert proportional_quota(counts, 16).tolist() == [10, 5, 1, 0]
    assert int(proportional_quota(counts, 157).sum()) == 157
    assert balanced_quota(counts, 27).tolist() == [10, 10, 7, 0]  # the small class is capped
    assert balanced_quota(counts, 30).tolist() == [12, 11, 7, 0]  # the remainder to low indices
    assert balanced_quota(counts, 31).tolist() == [12, 12, 7, 0]
    assert balanced_quota(counts, 1000).tolist() == [100, 50, 7, 0]


def test_split_is_disjoint_proportional_and_seeded():
    labels = torch.arange(1000) % 4
    labels[:200] = 0  # imbalanced: 0 is 400 of 1000
    train, val = train_val_split(labels, 0.1, seed=3, num_classes=4)
    assert len(val) == 100 and len(train) == 900
    assert set(train.tolist()).isdisjoint(val.tolist())
    assert torch.bincount(labels[val]).tolist() == [40, 20, 20, 20]
    again = train_val_split(labels, 0.1, seed=3, num_classes=4)[1]
    other = train_val_split(labels, 0.1, seed=4, num_classes=4)[1]
    assert torch.equal(val, again) and not torch.equal(val, other)


def test_subset_is_balanced_and_deterministic():
    labels = torch.arange(1000) % 10
    a = balanced_subset(labels, 95, seed=0, purpose="t", num_classes=10)
    assert sorted(torch.bincount(labels[a]).tolist()) == [9] * 5 + [10] * 5
    assert torch.equal(a, balanced_subset(labels, 95, seed=0, purpose="t", num_classes=10))
    assert not torch.equal(a, balanced_subset(labels, 95, seed=1, purpose="t", num_classes=10))


def test_load_data_subset():
    full = load_data("synthetic", "train")
    sub = load_data("synthetic", "train", subset=100, seed=0)
    assert len(full) == 1800 and torch.bincount(sub.labels).tolist() == [10] * 10
    assert torch.equal(sub.images, load_data("synthetic", "train", subset=100, seed=0).images)
    assert fingerprints(sub.images) <= fingerprints(full.images)  # a subset of the same split
    assert sub.mean == full.mean  # statistics of the training files, not of the subset
    val = load_data("synthetic", "val", subset=50)
    assert fingerprints(val.images).isdisjoint(fingerprints(full.images))


def test_subset_larger_than_the_split_keeps_all():
    messages = []
    data = load_data("synthetic", "test", subset=10_000, log=messages.append)
    assert len(data) == 500 and any("using all 500" in m for m in messages)


@pytest.mark.parametrize("kwargs, match", [
    ({"split": "valid"}, "unknown split"),
    ({"subset": 0}, "subset"),
    ({"val_fraction": 1.0}, "val_fraction"),
    ({"split": "val", "val_fraction": 0.0}, "empty"),
    ({"image_size": 0}, "image_size"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(DataError, match=match):
        load_data("synthetic", **{"split": "train", **kwargs})
