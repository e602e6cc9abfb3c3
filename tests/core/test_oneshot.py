"""Tests for nas_core.oneshot: the one-shot model (Sec. 3 of the paper)."""

import copy
import math

import pytest
import torch

from nas_core import NetworkConfig, NormSpec, OneShotModel, SearchSpace, add_weight_decay, get_space, list_spaces
from nas_core.oneshot import PathMasks, forward_dense

SPACES = [get_space(name) for name in list_spaces()]
CONFIG = NetworkConfig(width=4, cells_per_stack=1, in_channels=3, num_classes=5)


def make_model(space, seed=0, config=CONFIG):
    torch.manual_seed(seed)
    return OneShotModel(space, config)


@pytest.mark.parametrize("space", SPACES, ids=lambda s: s.name)
def test_arch_forward_equals_extracted_network(space):
    model = make_model(space)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(6, 3, 16, 16, generator=gen)
    for _ in range(20):
        arch = space.sample(gen)
        net = model.extract(arch)
        assert type(net).__name__ == "Network"
        torch.testing.assert_close(model(x, arch), net(x), atol=1e-5, rtol=0)


def test_extracted_network_holds_only_the_chosen_ops():
    space = get_space("bender2018")
    model = make_model(space)
    arch = space.sample(torch.Generator().manual_seed(3))
    net = model.extract(arch)
    kinds = [k for k, _ in CONFIG.cell_plan()]
    for cell, kind in zip(net.cells, kinds):
        for block, chosen in zip(cell.blocks, arch.cell(kind)):
            assert tuple(block.ops) == chosen.ops
    assert sum(p.numel() for p in net.parameters()) < sum(p.numel() for p in model.parameters())


def test_unselected_paths_contribute_nothing():
    space = get_space("bender2018")
    model = make_model(space)
    arch = space.sample(torch.Generator().manual_seed(4))
    x = torch.randn(4, 3, 16, 16)
    before = model(x, arch)
    with torch.no_grad():
        for c, kind in enumerate(model.cell_types):
            for block, chosen in zip(model.cells[c].blocks, arch.cell(kind)):
                for name, op in block.ops.items():
                    if name not in chosen.ops:
                        for p in op.parameters():
                            p.normal_()
    torch.testing.assert_close(model(x, arch), before, atol=0, rtol=0)


# Dense-masked execution, the reference, does not depend on the sparse execution: a case's dense
# outputs and gradients are computed for the first of its two executions and reused for the other
# (the same seeds give the same weights, images and masks; images and masks are checked).
DENSE: dict = {}


def dense_reference(key: tuple, model: OneShotModel, x: torch.Tensor, masks: PathMasks) -> tuple[torch.Tensor, dict]:
    """Outputs and gradients of ``forward_dense`` for ``masks``: computed, or kept from the other execution."""
    cached = DENSE.pop(key, None)
    if cached is not None and all(torch.equal(a, b) for a, b in zip(cached[0], (x, masks.inputs, masks.ops))):
        return cached[1]
    model.zero_grad(set_to_none=True)
    y = forward_dense(model, x, masks)
    y.square().sum().backward()
    found = y.detach(), {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    DENSE[key] = (x, masks.inputs.clone(), masks.ops.clone()), found
    return found


@pytest.mark.parametrize("space", SPACES, ids=lambda s: s.name)
@pytest.mark.parametrize("ghosts", [1, 4])
@pytest.mark.parametrize("layout, affine", [(torch.contiguous_format, False), (torch.channels_last, False),
                                            (torch.contiguous_format, True)],
                         ids=["nchw", "nhwc", "nchw-affine-bn"])
@pytest.mark.parametrize("execution", ["per-ghost", "batched"])
def test_sparse_equals_dense_masked(space, ghosts, layout, affine, execution):
    # float64: batch norm over a ghost batch of 4 near-constant examples (a block whose inputs
    # were all dropped) amplifies float32 rounding of the sum order by ~1/sqrt(eps), enough to
    # move gradients by a few percent; in float64 the two executions must agree tightly.
    # Affine batch norm turns an all-zero input into its shift: sparse execution must then still
    # run the ops on zeros (an input path on whose state is all zero), as dense execution does.
    torch.manual_seed(0)
    model = OneShotModel(space, CONFIG, NormSpec(affine=affine, running_stats=False), execution=execution)
    if affine:
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.bias.normal_()
    model = model.double().to(memory_format=layout)
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(4 * ghosts, 3, 16, 16, generator=gen, dtype=torch.float64).contiguous(memory_format=layout)
    for rate, ramp in ((0.5, 1.0), (0.9, 1.0), (0.1, 0.3), (0.0, 0.0)):
        masks = model.path_dropout(ghosts, rate, ramp, gen)
        if rate == 0.0:  # edge cases: block 0 all off; block 1 reads only block 0 (zeros)
            masks.ops[:, 0, 0] = False
            masks.inputs[:, 0, 1] = torch.tensor([False, False, True] + [False] * (space.num_blocks - 2))
            masks.inputs[0, -1] = False  # cell 0, last ghost batch: every block without input
        model.zero_grad(set_to_none=True)
        y = model(x, masks=masks)
        y.square().sum().backward()
        sparse = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
        y_dense, dense = dense_reference((space.name, ghosts, layout, affine, rate), model, x, masks)
        torch.testing.assert_close(y, y_dense, atol=1e-9, rtol=1e-9)
        for name, g in sparse.items():  # sparse grads exist only on computed paths
            torch.testing.assert_close(g, dense[name], atol=1e-8, rtol=1e-7)
        for name in set(dense) - set(sparse):  # paths sparse skipped get zero grad in dense
            assert dense[name].abs().max() < 1e-10, name


def test_execution_is_chosen_once_and_is_not_a_weight(monkeypatch):
    """``"auto"`` runs CPU inputs per ghost batch; every execution gives the same logits; the
    choice survives loading weights and is not among them (checkpoints keep loading)."""
    model = make_model(get_space("tiny"))
    masks = model.path_dropout(2, 0.5, 1.0, torch.Generator().manual_seed(0))
    x = torch.randn(8, 3, 16, 16)
    ghost_runs = []
    forward_ghost = OneShotModel._forward_ghost
    monkeypatch.setattr(OneShotModel, "_forward_ghost",
                        lambda self, *a: ghost_runs.append(1) or forward_ghost(self, *a))
    assert model.execution == "auto"
    y = model(x, masks=masks)
    assert len(ghost_runs) == 2  # CPU input: once per ghost batch
    torch.testing.assert_close(model.set_execution("batched")(x, masks=masks), y, atol=1e-5, rtol=0)
    assert len(ghost_runs) == 2
    other = OneShotModel(model.space, CONFIG, execution="per-ghost")
    other.load_state_dict(model.state_dict())
    assert other.execution == "per-ghost" and "execution" not in other.state_dict()
    torch.testing.assert_close(other(x, masks=masks), y, atol=1e-5, rtol=0)
    assert len(ghost_runs) == 4


def test_ghost_batches_get_their_own_batch_statistics():
    """Each ghost batch is normalised alone: changing one ghost leaves the others' outputs alone."""
    space = get_space("tiny")
    model = make_model(space)
    masks = model.path_dropout(2, 0.0, 0.0, torch.Generator())
    x = torch.randn(8, 3, 16, 16)
    y = model(x, masks=masks)
    x2 = x.clone()
    x2[4:] = torch.randn(4, 3, 16, 16) * 3
    y2 = model(x2, masks=masks)
    torch.testing.assert_close(y[:4], y2[:4])
    torch.testing.assert_close(y[:4], model(x[:4], masks=model.path_dropout(1, 0.0, 0.0, torch.Generator())))


def _all_dropped_fraction(masks, space):
    """Fraction of nodes with all k incoming paths dropped, for each k."""
    N = space.num_blocks
    fractions = {}
    for b in range(N):
        dropped = ~masks.inputs[:, :, b, : 2 + b].any(-1)
        fractions.setdefault(2 + b, []).append(dropped.flatten())
    fractions.setdefault(len(space.ops), []).append((~masks.ops.any(-1)).flatten())
    return {k: torch.cat(v) for k, v in fractions.items()}


def test_dropout_law_all_paths_dropped_with_probability_r():
    """At the end of the ramp, P(all k paths of a node dropped) = r for k = 2..7.

    A 6-block space gives input nodes with k = 2..7 candidates; op nodes have k = 7.
    Each fraction is checked against r within 3 binomial standard errors.
    """
    space = SearchSpace("law", num_blocks=6)
    model = OneShotModel(space, NetworkConfig(width=2, cells_per_stack=1))
    r = 0.2
    masks = model.path_dropout(2000, r, 1.0, torch.Generator().manual_seed(0))
    fractions = _all_dropped_fraction(masks, space)
    assert sorted(fractions) == [2, 3, 4, 5, 6, 7]
    for k, dropped in fractions.items():
        se = math.sqrt(r * (1 - r) / dropped.numel())
        assert abs(dropped.float().mean().item() - r) < 3 * se, (k, dropped.float().mean())
    # each single path is dropped with probability r ** (1/k); check k = 7 op paths
    p = r ** (1 / 7)
    frac = (~masks.ops).float().mean().item()
    assert abs(frac - p) < 3 * math.sqrt(p * (1 - p) / masks.ops.numel())


def test_no_dropout_at_ramp_zero_and_masks_differ_between_ghosts():
    space = get_space("bender2018")
    model = make_model(space)
    gen = torch.Generator().manual_seed(0)
    masks = model.path_dropout(8, 0.5, 0.0, gen)
    valid = masks.inputs.any(0).any(0)  # candidate columns
    assert masks.inputs[:, :, valid].all() and masks.ops.all()
    masks = model.path_dropout(8, 0.5, 1.0, gen)
    per_ghost = [(masks.inputs[:, g], masks.ops[:, g]) for g in range(8)]
    assert any(not torch.equal(per_ghost[0][1], m[1]) for m in per_ghost[1:])
    again = model.path_dropout(8, 0.5, 1.0, torch.Generator().manual_seed(0))
    first = model.path_dropout(8, 0.5, 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(first.ops, model.path_dropout(8, 0.5, 0.0, torch.Generator().manual_seed(0)).ops)
    assert again.ops.shape == masks.ops.shape


def test_same_generator_seed_same_masks():
    model = make_model(get_space("tiny"))
    a = model.path_dropout(4, 0.3, 0.7, torch.Generator().manual_seed(9))
    b = model.path_dropout(4, 0.3, 0.7, torch.Generator().manual_seed(9))
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.ops, b.ops)


def _dropped_everywhere(model, masks):
    """(cell, block, op name) of the ops with parameters that no ghost batch used."""
    used = masks.ops_on().any(1)
    out = []
    for c, cell in enumerate(model.cells):
        for b, block in enumerate(cell.blocks):
            for j, (name, op) in enumerate(block.ops.items()):
                if not used[c, b, j] and any(True for _ in op.parameters()):
                    out.append((c, b, name))
    return out


def test_weight_decay_only_on_active_paths():
    space = get_space("bender2018")
    model = make_model(space)
    gen = torch.Generator().manual_seed(2)
    masks = model.path_dropout(2, 0.5, 1.0, gen)
    dropped = _dropped_everywhere(model, masks)
    assert dropped, "the test needs an op dropped for the whole batch"
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 5, (8,))
    lr, wd = 0.1, 0.5
    results = []
    for decay in (0.0, wd):
        m = copy.deepcopy(model)
        opt = torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9, nesterov=True)
        m.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(m(x, masks=masks), y).backward()
        add_weight_decay(m.active_parameters(masks), decay)
        opt.step()
        results.append(m)
    plain, decayed = results
    for c, b, name in dropped:
        for p0, p1 in zip(model.cells[c].blocks[b].ops[name].parameters(),
                          decayed.cells[c].blocks[b].ops[name].parameters()):
            assert torch.equal(p0, p1), (c, b, name)
    active = {id(p) for p in model.active_parameters(masks)}
    checked = 0
    for (name, p0), p_plain, p_dec in zip(model.named_parameters(), plain.parameters(), decayed.parameters()):
        if id(p0) in active and ".ops." in name:
            # SGD with Nesterov: the decay term adds lr * wd * p * (1 + momentum) on the first step
            torch.testing.assert_close(p_plain - p_dec, lr * wd * 1.9 * p0, atol=1e-6, rtol=1e-4)
            checked += 1
    assert checked > 0


def test_forward_argument_errors():
    space = get_space("tiny")
    model = make_model(space)
    x = torch.randn(6, 3, 16, 16)
    with pytest.raises(ValueError, match="exactly one"):
        model(x)
    with pytest.raises(ValueError, match="ghost batches"):
        model(x, masks=model.path_dropout(4, 0.1, 1.0, torch.Generator()))
    with pytest.raises(ValueError, match="ghost batches"):
        forward_dense(model, x, model.path_dropout(4, 0.1, 1.0, torch.Generator()))
    with pytest.raises(ValueError, match="unknown execution"):
        model.set_execution("dense")
    with pytest.raises(ValueError, match="rate"):
        model.path_dropout(2, 1.5, 1.0, torch.Generator())
