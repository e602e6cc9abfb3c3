"""The ground truth's noise share (nas_cli.correlate._analysis.noise_share)."""

import random

import pytest

from nas_cli.correlate._analysis import noise_share


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
