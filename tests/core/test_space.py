"""Tests for nas_core.space: the search space as data."""

import itertools
import json
import math

import pytest
import torch

from nas_core import Architecture, ArchitectureError, Block, SearchSpace, get_space, list_spaces
from nas_core.space import FORMAT_VERSION

SPACES = [get_space(name) for name in list_spaces()]


def sample(space, seed):
    return space.sample(torch.Generator().manual_seed(seed))


def test_registry_has_the_papers_space_and_tiny():
    assert {"bender2018", "tiny"} <= set(list_spaces())
    with pytest.raises(KeyError, match="unknown search space 'nope'"):
        get_space("nope")


def test_bender2018_size_matches_the_paper():
    space = get_space("bender2018")
    assert space.cell_size() == 3 * 6 * 10 * 15 * 28**4
    assert space.size() == (3 * 6 * 10 * 15 * 28**4) ** 2
    assert math.isclose(space.size(), 2.75e18, rel_tol=0.01)


def test_tiny_size_equals_brute_force_enumeration():
    space = get_space("tiny")
    op_sets = [c for k in (1, 2) for c in itertools.combinations(space.ops, k)]
    cells = []
    for choice in itertools.product(
        *[itertools.product(space.input_choices(b), op_sets) for b in range(space.num_blocks)]
    ):
        cells.append(tuple(Block(i, o) for i, o in choice))
    distinct = set(cells)
    for blocks in cells[:: max(1, len(cells) // 50)]:
        space.validate(Architecture(space.name, blocks, blocks))
    assert len(distinct) == space.cell_size()
    assert len(distinct) ** 2 == space.size()


@pytest.mark.parametrize("space", SPACES, ids=lambda s: s.name)
def test_json_and_string_round_trips(space):
    for seed in range(20):
        arch = sample(space, seed)
        assert Architecture.from_json(arch.to_json()) == arch
        assert Architecture.from_json(arch.to_json(indent=2)) == arch
        assert Architecture.from_string(str(arch)) == arch
        assert "\n" not in str(arch)
        assert hash(Architecture.from_json(arch.to_json())) == hash(arch)


def test_json_is_canonical_and_versioned():
    arch = sample(get_space("bender2018"), 3)
    data = json.loads(arch.to_json())
    assert data["format_version"] == FORMAT_VERSION
    assert list(data) == sorted(data)
    reversed_normal = tuple(Block(b.inputs[::-1], b.ops[::-1]) for b in arch.normal)
    same = Architecture(arch.space, reversed_normal, arch.reduce)
    assert same == arch and same.id == arch.id and same.to_json() == arch.to_json()


def test_id_is_stable_and_distinguishes():
    space = get_space("bender2018")
    archs = [sample(space, s) for s in range(50)]
    assert len({a.id for a in archs}) == 50
    assert archs[0].id == sample(space, 0).id
    assert len(archs[0].id) == 12


@pytest.mark.parametrize("space", SPACES, ids=lambda s: s.name)
def test_same_seed_same_architecture(space):
    assert sample(space, 7) == sample(space, 7)
    assert len({sample(space, s) for s in range(10)}) > 1


@pytest.mark.parametrize("space", SPACES, ids=lambda s: s.name)
def test_samples_are_valid(space):
    for seed in range(50):
        space.validate(sample(space, seed))


def test_sampling_is_uniform_over_each_choice():
    """Frequencies of every input set and op set of block 1 (6 and 6 choices in tiny).

    n = 6000 draws: each count is binomial with p = 1/6, sd = sqrt(n p (1-p)) ~ 29;
    we allow 4 standard deviations (a false alarm about 1 time in 10^4 per count).
    """
    space = get_space("tiny")
    gen = torch.Generator().manual_seed(123)
    n = 6000
    archs = [space.sample(gen) for _ in range(n)]
    for choices, key in ((space.input_choices(1), "inputs"), (space.op_choices(), "ops")):
        p = 1 / len(choices)
        sd = math.sqrt(n * p * (1 - p))
        counts = {c: 0 for c in choices}
        for a in archs:
            counts[getattr(a.normal[1], key)] += 1
        for choice, count in counts.items():
            assert abs(count - n * p) < 4 * sd, (key, choice, count)


def _arch_json(**changes):
    arch = sample(get_space("tiny"), 0)
    data = arch.to_dict()
    data["normal"][1].update(changes)
    return data


@pytest.mark.parametrize(
    "change, message",
    [
        ({"ops": ["warp_drive"]}, r"normal cell, block 1, ops: unknown op 'warp_drive'"),
        ({"inputs": [0, 3]}, r"normal cell, block 1, inputs: index 3 out of range 0..2"),
        ({"inputs": [0, 1, 2]}, r"normal cell, block 1, inputs: 3 given, at most 2"),
        ({"ops": ["identity", "max_pool_3x3", "sep_conv_3x3"]}, r"normal cell, block 1, ops: 3 given"),
        ({"inputs": [1, 1]}, r"normal cell, block 1, inputs: duplicate 1"),
        ({"inputs": []}, r"normal cell, block 1, inputs: empty"),
    ],
)
def test_validation_names_the_field(change, message):
    arch = Architecture.from_json(_arch_json(**change))
    with pytest.raises(ArchitectureError, match=message):
        get_space("tiny").validate(arch)


def test_validation_rejects_wrong_block_count_and_space():
    arch = sample(get_space("tiny"), 0)
    with pytest.raises(ArchitectureError, match="space: architecture is for 'tiny'"):
        get_space("bender2018").validate(arch)
    short = Architecture("tiny", arch.normal[:1], arch.reduce)
    with pytest.raises(ArchitectureError, match="normal cell: has 1 blocks"):
        get_space("tiny").validate(short)


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "malformed JSON"),
        ("[1, 2]", "must be an object"),
        (json.dumps({"format_version": 1, "space": "tiny", "normal": []}), "reduce cell: missing"),
        (json.dumps({"format_version": FORMAT_VERSION + 1, "space": "tiny"}), "newer than"),
        (json.dumps({"space": "tiny"}), "format_version: missing"),
        (json.dumps({"format_version": 1, "space": "tiny", "normal": [{"inputs": ["a"], "ops": []}],
                     "reduce": []}), r"normal cell, block 0, inputs: must be a list of int"),
    ],
)
def test_from_json_rejects_bad_input(text, message):
    with pytest.raises(ArchitectureError, match=message):
        Architecture.from_json(text)


def test_bad_string_form():
    with pytest.raises(ArchitectureError, match="malformed architecture string"):
        Architecture.from_string("tiny|normal:0>id;x>")
    with pytest.raises(ArchitectureError, match="reduce cell: missing"):
        Architecture.from_string("tiny|normal:0>id;1>mp")


def test_space_round_trips_through_dict():
    for space in SPACES:
        assert SearchSpace.from_dict(space.to_dict()) == space
