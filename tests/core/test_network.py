"""Tests for nas_core.network: stand-alone networks, params and FLOPs."""

import pytest
import torch

from nas_core import (
    NetworkConfig,
    arch_cost,
    build_network,
    count_flops,
    count_params,
    get_space,
    list_spaces,
)
from nas_core.space import Architecture, Block

SPACES = [get_space(name) for name in list_spaces()]


@pytest.mark.parametrize("space", SPACES, ids=lambda s: s.name)
@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28), (3, 17, 17)])
def test_network_shapes(space, shape):
    arch = space.sample(torch.Generator().manual_seed(0))
    config = NetworkConfig(width=4, cells_per_stack=1, in_channels=shape[0], num_classes=7)
    net = build_network(arch, config)
    assert net(torch.randn(3, *shape)).shape == (3, 7)


def test_fresh_network_has_affine_batch_norm_with_running_stats():
    arch = get_space("tiny").sample(torch.Generator().manual_seed(0))
    net = build_network(arch, NetworkConfig(width=4, cells_per_stack=1))
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(bn.affine and bn.track_running_stats for bn in bns)
    x = torch.randn(4, 3, 16, 16)
    net.train()(x)
    assert any(bn.num_batches_tracked.item() == 1 for bn in bns)
    net.eval()
    torch.testing.assert_close(net(x[:1]), net(x)[:1])  # eval: running statistics, batch-independent


def test_cell_layout_three_stacks_two_reductions():
    config = NetworkConfig(width=8, cells_per_stack=2)
    assert config.cell_plan() == [("normal", 8)] * 2 + [("reduce", 16)] + [("normal", 16)] * 2 + [
        ("reduce", 32)] + [("normal", 32)] * 2
    with pytest.raises(ValueError):
        NetworkConfig(cells_per_stack=0)


def test_params_and_flops_grow_with_the_architecture():
    space = get_space("bender2018")
    config = NetworkConfig(width=8, cells_per_stack=1)
    small = Architecture(space.name, *[tuple(Block((1,), ("identity",)) for _ in range(4))] * 2)
    heavy = Block((0, 1), ("conv_1x7_7x1", "sep_conv_7x7"))
    big = Architecture(space.name, *[(heavy,) * 4] * 2)
    cost_small, cost_big = arch_cost(small, config, 32), arch_cost(big, config, 32)
    assert 0 < cost_small["params"] < cost_big["params"]
    assert 0 < cost_small["flops"] < cost_big["flops"]
    net = build_network(big, config)
    assert count_params(net) == cost_big["params"]
    # the flop counter sees the convs: a 3x3 stem conv alone is 2 * 9 * 3 * 8 * 32 * 32 flops
    assert count_flops(net, (3, 32, 32)) > 2 * 9 * 3 * 8 * 32 * 32


def test_build_network_validates_the_architecture():
    arch = get_space("tiny").sample(torch.Generator().manual_seed(0))
    bad = Architecture("tiny", arch.normal, (Block((5,), ("identity",)),) + arch.reduce[1:])
    with pytest.raises(ValueError, match="reduce cell, block 0, inputs"):
        build_network(bad)


def test_stand_alone_network_is_static_and_exportable():
    """torch.export traces the network without graph breaks: nothing branches on the arch."""
    space = get_space("bender2018")
    arch = space.sample(torch.Generator().manual_seed(1))
    net = build_network(arch, NetworkConfig(width=4, cells_per_stack=1)).eval()
    x = torch.randn(2, 3, 16, 16)
    exported = torch.export.export(net, (x,))
    torch.testing.assert_close(exported.module()(x), net(x))
