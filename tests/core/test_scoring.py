"""One-shot scoring (Sec. 4): accuracy of an architecture inside the one-shot model."""

import pytest
import torch

from nas_core import NetworkConfig, OneShotModel, Scorer, get_space, one_shot_accuracy
from nas_core.data import DeviceLoader, load_data


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    space = get_space("tiny")
    model = OneShotModel(space, NetworkConfig(width=4, cells_per_stack=1, num_classes=10)).eval()
    val = load_data("synthetic", "val", image_size=12, subset=120)
    archs = [space.sample(torch.Generator().manual_seed(s)) for s in range(4)]
    return model, val, archs


def test_score_equals_the_extracted_network_on_the_same_batches(setup):
    model, val, archs = setup
    for arch in archs:
        acc, loss = one_shot_accuracy(model, arch, val, batch_size=50)
        net = model.extract(arch)
        correct = sum(int((net(x).argmax(1) == y).sum()) for x, y in DeviceLoader(val, 50, train=False))
        assert acc == pytest.approx(correct / len(val))
        assert loss > 0


def test_score_is_deterministic_and_sparse_equals_dense(setup):
    model, val, archs = setup
    first = one_shot_accuracy(model, archs[0], val, batch_size=60)
    assert one_shot_accuracy(model, archs[0], val, batch_size=60) == first
    dense = one_shot_accuracy(model, archs[0], val, batch_size=60, dense=True)
    assert dense[0] == pytest.approx(first[0]) and dense[1] == pytest.approx(first[1], rel=1e-4)


def test_scorer_caches_by_architecture_id(setup, tmp_path):
    model, val, archs = setup
    scorer = Scorer(model, val, batch_size=60, cache_file=tmp_path / "scores.jsonl")
    a = scorer(archs[0])
    assert scorer(archs[0]) == a and scorer.computed == 1
    scorer(archs[1])
    assert scorer.computed == 2 and a.params > 0 and a.flops > 0
    again = Scorer(model, val, batch_size=60, cache_file=tmp_path / "scores.jsonl")
    assert again(archs[0]) == a and again.computed == 0  # persisted across instances
    assert len((tmp_path / "scores.jsonl").read_text().splitlines()) == 2


def test_recalibrate_mode(setup):
    model, val, archs = setup
    train = load_data("synthetic", "train", image_size=12, subset=200)
    score = Scorer(model, val, mode="recalibrate", train=train, batch_size=50)(archs[0])
    assert 0 <= score.accuracy <= 1
    with pytest.raises(ValueError, match="needs training data"):
        Scorer(model, val, mode="recalibrate")
    with pytest.raises(ValueError, match="unknown scoring mode"):
        Scorer(model, val, mode="nope")
