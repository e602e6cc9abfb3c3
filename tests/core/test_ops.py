"""Tests for nas_core.ops: ghost batch norm and the op menu."""

import pytest
import torch

from nas_core.ops import (
    ONE_SHOT_NORM,
    OPS,
    STANDALONE_NORM,
    FactorizedReduce,
    GhostBatchNorm2d,
    NormSpec,
    create_op,
)
from nas_core.space import PAPER_OPS


def test_every_paper_op_is_implemented_and_shape_preserving():
    assert set(PAPER_OPS) == set(OPS)
    x = torch.randn(2, 6, 9, 9)
    for name in PAPER_OPS:
        assert create_op(name, 6, STANDALONE_NORM)(x).shape == x.shape, name


@pytest.mark.parametrize("affine", [False, True])
def test_ghost_batch_norm_equals_batch_norm_per_chunk(affine):
    torch.manual_seed(0)
    bn = GhostBatchNorm2d(5, NormSpec(affine=affine, running_stats=False))
    if affine:
        torch.nn.init.normal_(bn.weight)
        torch.nn.init.normal_(bn.bias)
    x = torch.randn(12, 5, 4, 4) * 3 + 1
    expected = torch.cat([bn(chunk) for chunk in x.chunk(3)])
    torch.testing.assert_close(bn(x, ghosts=3), expected, atol=1e-5, rtol=1e-5)


def test_one_shot_batch_norm_uses_batch_statistics_in_eval_mode():
    bn = GhostBatchNorm2d(3, ONE_SHOT_NORM).eval()
    x = torch.randn(8, 3, 4, 4) * 5 + 2
    y = bn(x)
    assert abs(y.mean().item()) < 1e-5 and bn.running_mean is None
    with pytest.raises(RuntimeError, match="ghost"):
        GhostBatchNorm2d(3, STANDALONE_NORM)(x, ghosts=2)


@pytest.mark.parametrize("size", [8, 7])
def test_factorized_reduce_halves_resolution(size):
    y = FactorizedReduce(4, 6, STANDALONE_NORM)(torch.randn(2, 4, size, size))
    assert y.shape == (2, 6, (size + 1) // 2, (size + 1) // 2)


@pytest.mark.parametrize("size", [8, 9])
@pytest.mark.parametrize("c_in", [1, 4, 8])
def test_factorized_reduce_gradients_in_channels_last_match_float64(c_in, size):
    """The weight gradient in the trainers' memory format equals a float64 NCHW reference (a
    stride-2 1x1 conv in channels-last got it ~100% wrong on torch 2.13.0+cpu for c_in < 6)."""
    torch.manual_seed(0)
    op = FactorizedReduce(c_in, 6, STANDALONE_NORM)
    ref = FactorizedReduce(c_in, 6, STANDALONE_NORM).double()
    ref.load_state_dict(op.state_dict())
    x, w = torch.randn(8, c_in, size, size), torch.randn(8, 6, (size + 1) // 2, (size + 1) // 2)
    (ref(x.double()) * w.double()).sum().backward()  # a weighted sum: batch norm keeps sum(y^2) fixed
    op = op.to(memory_format=torch.channels_last)
    y = op(x.to(memory_format=torch.channels_last))
    (y * w).sum().backward()
    assert y.shape == (8, 6, (size + 1) // 2, (size + 1) // 2)
    for name in ("conv_a", "conv_b"):
        got, want = getattr(op, name).weight.grad.double(), getattr(ref, name).weight.grad
        assert torch.allclose(got, want, rtol=1e-3, atol=1e-3 * want.abs().max()), name
