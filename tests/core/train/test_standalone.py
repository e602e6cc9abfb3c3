"""Stand-alone training on synthetic data: learns, saves, reloads; cutout and drop-path."""

import json

import pytest
import torch

from nas_core import get_space
from nas_core.cell import DropPath
from nas_core.data import load_data
from nas_core.train import StandaloneConfig, cutout, evaluate, load_network, train_standalone


@pytest.fixture(scope="module")
def splits():
    return {s: load_data("synthetic", s, image_size=12, subset=n)
            for s, n in (("train", 640), ("val", 200), ("test", 200))}


def test_trains_reports_and_reloads(splits, tmp_path):
    arch = get_space("tiny").sample(torch.Generator().manual_seed(0))
    config = StandaloneConfig(width=4, cells_per_stack=1, steps=40, batch_size=32, lr=0.4,
                              log_every=10, checkpoint_every=20, cutout=4, drop_path=0.2,
                              label_smoothing=0.1)
    result = train_standalone(arch, config, splits["train"], splits["val"], tmp_path, test=splits["test"])
    assert result["val"]["accuracy"] > 0.3  # 10 classes: chance is 0.1
    assert result["test"]["accuracy"] > 0.3 and result["params"] > 0 and result["flops"] > 0
    assert json.loads((tmp_path / "result.json").read_text())["arch_id"] == arch.id
    assert (tmp_path / "arch.json").exists() and (tmp_path / "model.safetensors").exists()
    net, saved = load_network(tmp_path)
    assert saved["val"] == result["val"]
    again = evaluate(net, splits["val"])
    assert again["accuracy"] == pytest.approx(result["val"]["accuracy"])


def test_cutout_zeroes_one_square_per_image():
    x = torch.ones(8, 3, 10, 10)
    y = cutout(x, 4, torch.Generator().manual_seed(0))
    zeros = (y == 0).all(1).flatten(1).sum(1)  # zeroed pixels per image
    assert ((zeros > 0) & (zeros <= 25)).all()  # a square of side <= 5 (size // 2 each side), clipped
    assert not torch.equal(y[0], y[1]) or not torch.equal(y[2], y[3])


def test_drop_path_drops_examples_and_keeps_the_mean():
    y = torch.ones(4000, 1, 1, 1)
    out = DropPath(0.3, torch.Generator().manual_seed(0))(y)
    dropped = (out == 0).float().mean().item()
    assert abs(dropped - 0.3) < 0.03 and abs(out.mean().item() - 1) < 0.05
