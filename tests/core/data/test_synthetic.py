"""The ``synthetic`` data set (``_synthetic.py``): fixed, balanced, and learnable."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nas_core.data import DeviceLoader, load_data


def test_fixed_balanced_and_sized():
    a, b = load_data("synthetic", "test"), load_data("synthetic", "test", seed=5)
    assert torch.equal(a.images, b.images)  # the data are fixed; seed picks splits/subsets
    assert a.images.shape == (500, 3, 32, 32) and torch.bincount(a.labels).tolist() == [50] * 10
    assert load_data("synthetic", "train", image_size=12).images.shape[1:] == (3, 12, 12)
    train = load_data("synthetic", "train", seed=1)
    assert len(train) == 1800 and not torch.equal(train.images,
                                                  load_data("synthetic", "train").images)


def test_a_linear_model_learns_it_in_a_few_dozen_steps():
    data = load_data("synthetic", "train", image_size=16)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    loader = DeviceLoader(data, 64, train=True, crop_padding=2)
    for _, (x, y) in zip(range(40), iter(loader)):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
