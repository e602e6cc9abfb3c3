"""Architectures as Optuna parameters: every suggestion is a valid architecture."""

import math

import optuna
import pytest
import torch

from nas_cli.search import SAMPLERS, create_sampler, decode, distributions, encode, suggest_architecture
from nas_core import get_space, list_spaces

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_parameter_names_are_readable():
    names = list(distributions(get_space("bender2018")))
    assert "normal.b2.inputs" in names and "reduce.b0.ops" in names
    assert len(names) == 2 * 4 * 2


@pytest.mark.parametrize("name", list_spaces())
def test_encode_decode_round_trip(name):
    space = get_space(name)
    for seed in range(20):
        arch = space.sample(torch.Generator().manual_seed(seed))
        assert decode(space, encode(arch)) == arch
        dists = distributions(space)
        assert all(v in dists[k].choices for k, v in encode(arch).items())


def test_choice_counts_match_the_space():
    space = get_space("bender2018")
    dists = distributions(space)
    count = math.prod(len(d.choices) for d in dists.values())
    assert count == space.size()


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_every_sampler_suggests_valid_architectures(sampler):
    """Conformance over the sampler registry: a short study, each suggestion decodes and validates."""
    space = get_space("tiny")
    multi = SAMPLERS[sampler].multi_objective
    study = optuna.create_study(sampler=create_sampler(sampler, 0),
                                directions=["maximize", "minimize"] if multi else ["maximize"])
    seen = []

    def objective(trial):
        arch = suggest_architecture(trial, space)  # validates
        seen.append(arch)
        score = sum(len(b.ops) for b in arch.normal) / 10
        return (score, len(arch.normal[0].inputs)) if multi else score

    study.optimize(objective, n_trials=8 if sampler == "gp" else 15)
    assert len(seen) == len(study.trials) and all(t.state.name == "COMPLETE" for t in study.trials)


def test_many_seeds_of_random_suggestions_are_valid():
    space = get_space("bender2018")
    for seed in range(30):
        study = optuna.create_study(sampler=create_sampler("random", seed))
        trial = study.ask()
        space.validate(suggest_architecture(trial, space))


def test_random_sampler_is_uniform_over_each_choice():
    """Block 2 of bender2018 has 10 input sets: n = 3000 draws, each count within 4 sd of n/10."""
    space = get_space("bender2018")
    study = optuna.create_study(sampler=create_sampler("random", 1))
    counts = {}
    n = 3000
    for _ in range(n):
        arch = suggest_architecture(study.ask(), space)
        counts[arch.normal[2].inputs] = counts.get(arch.normal[2].inputs, 0) + 1
    assert len(counts) == 10
    sd = math.sqrt(n * 0.1 * 0.9)
    assert all(abs(c - n / 10) < 4 * sd for c in counts.values()), counts
