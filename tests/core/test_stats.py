import math

import pytest
import torch

from nas_core.stats import (
    average_ranks,
    bootstrap,
    kendall_tau,
    spearman_rho,
    top_k_precision,
)


def test_perfect_and_reversed():
    x = [1.0, 2.0, 3.0, 4.0]
    assert kendall_tau(x, x) == pytest.approx(1.0)
    assert spearman_rho(x, x) == pytest.approx(1.0)
    assert kendall_tau(x, x[::-1]) == pytest.approx(-1.0)
    assert spearman_rho(x, x[::-1]) == pytest.approx(-1.0)


def test_tau_b_with_ties_hand_computed():
    # x=[1,2,2,3], y=[1,3,2,3]: pairs (i<j): C=4, D=0, ties-in-x only 1, ties-in-y only 1
    # n0=6, n1=1 (x ties), n2=1 (y ties): tau_b = 4 / sqrt(5*5) = 0.8
    assert kendall_tau([1, 2, 2, 3], [1, 3, 2, 3]) == pytest.approx(0.8)


def test_average_ranks_and_rho_with_ties():
    assert average_ranks([10, 20, 20, 30]).tolist() == [1.0, 2.5, 2.5, 4.0]
    # ranks x=[1,2.5,2.5,4], y=[1,3.5,2,3.5]; centred dot 3.75, both sums of squares 4.5
    assert spearman_rho([1, 2, 2, 3], [1, 3, 2, 3]) == pytest.approx(3.75 / 4.5)


def test_n2_and_too_few():
    assert kendall_tau([1, 2], [3, 4]) == pytest.approx(1.0)
    assert spearman_rho([1, 2], [4, 3]) == pytest.approx(-1.0)
    assert math.isnan(kendall_tau([1, 1], [3, 4]))
    with pytest.raises(ValueError, match="at least 2"):
        kendall_tau([1], [1])
    with pytest.raises(ValueError, match="differ"):
        spearman_rho([1, 2], [1, 2, 3])


def test_top_k_precision():
    pred = [0.9, 0.8, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.05]
    actual = [0.9, 0.1, 0.8, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.05]
    assert top_k_precision(pred, actual, 0.1) == 1.0
    assert top_k_precision(pred, actual, 0.2) == 0.5


def test_bootstrap_contains_point_and_is_seeded():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(30, generator=gen)
    y = x + 0.3 * torch.rand(30, generator=gen)
    a = bootstrap(kendall_tau, x, y, n_resamples=200, seed=1)
    b = bootstrap(kendall_tau, x, y, n_resamples=200, seed=1)
    assert a == b
    assert a.low <= a.value <= a.high
    assert a.low > 0


def test_stratified_indices_cover_range_and_seeded():
    from nas_core.stats import stratified_indices

    gen = torch.Generator().manual_seed(0)
    values = torch.cat([torch.rand(200, generator=gen) * 0.1, torch.tensor([0.5, 0.9, 1.0])])
    idx = stratified_indices(values, 5, seed=3)
    assert len(set(idx)) == 5
    assert idx == stratified_indices(values, 5, seed=3)
    picked = values[idx]
    assert float(picked.max()) >= 0.9 and float(picked.min()) <= 0.2
    with pytest.raises(ValueError):
        stratified_indices(values, 0)
