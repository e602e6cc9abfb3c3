"""The ground truth's noise share and the tau ceiling it sets (nas_cli.correlate._analysis)."""

import random

import pytest

from nas_cli.correlate._analysis import noise_share, tau_ceiling
from nas_core.stats import kendall_tau


def test_seeds_that_agree_exactly_leave_no_noise():
    assert noise_share([[0.5, 0.5], [0.6, 0.6], [0.7, 0.7]]) == 0


def test_seeds_that_swap_the_ranking_are_all_noise():
    assert noise_share([[0.5, 0.6], [0.6, 0.5]]) == pytest.approx(1.0)


def test_the_share_grows_with_the_seed_noise_against_a_fixed_spread():
    rng = random.Random(0)
    archs = [0.5 + 0.001 * i for i in range(32)]  # a spread of std 0.009

    def share(noise):
        return noise_share([[a + rng.gauss(0, noise) for _ in range(2)] for a in archs])

    quiet, loud = share(0.0005), share(0.05)
    assert quiet < 0.1 < 0.8 < loud


def test_too_few_repeated_trainings_or_a_flat_sample_give_none():
    assert noise_share([[0.5, 0.6], [0.7]]) is None
    assert noise_share([[0.5, 0.6], [0.5, 0.4]]) is None


def test_the_ceiling_is_1_without_noise_0_with_only_noise_and_none_without_a_share():
    assert tau_ceiling(0.0, 2) == pytest.approx(1.0)
    assert tau_ceiling(1.0, 2) == 0
    assert tau_ceiling(1.3, 2) == 0  # an estimate over 1 on a small sample
    assert tau_ceiling(None, 2) is None


def test_more_seeds_raise_the_ceiling_and_more_noise_lowers_it():
    assert tau_ceiling(0.4, 1) < tau_ceiling(0.4, 2) < tau_ceiling(0.4, 8)
    assert tau_ceiling(0.6, 2) < tau_ceiling(0.4, 2) < tau_ceiling(0.1, 2)


def test_the_ceiling_matches_a_perfect_proxy_on_simulated_normal_trainings():
    """True accuracies and seed noise both normal, noise share 0.4: tau of the truth itself (a
    perfect proxy) against the mean of two seeds, averaged over many samples."""
    rng = random.Random(0)
    share, taus = 0.4, []
    for _ in range(60):
        truth = [rng.gauss(0, (1 - share) ** 0.5) for _ in range(120)]
        mean_of_two = [t + (rng.gauss(0, share**0.5) + rng.gauss(0, share**0.5)) / 2 for t in truth]
        taus.append(kendall_tau(truth, mean_of_two))
    assert sum(taus) / len(taus) == pytest.approx(tau_ceiling(share, 2), abs=0.02)
