"""Architecture JSON as untrusted input: only the format versions we know, only the keys of that
version, and one-line errors for hostile text (deep nesting, huge numbers); good JSON still
round-trips."""

from __future__ import annotations

import json

import pytest
import torch

from nas_core import Architecture, ArchitectureError, get_space

ARCH = get_space("tiny").sample(torch.Generator().manual_seed(0))
GOOD = ARCH.to_dict()


def with_block(**changes) -> dict:
    data = json.loads(ARCH.to_json())
    data["normal"][0].update(changes)
    return data


@pytest.mark.parametrize("data, message", [
    ({**GOOD, "format_version": -1}, "format_version: -1 is not a format version (known: 1)"),
    ({**GOOD, "format_version": 0}, "format_version: 0 is not a format version"),
    ({**GOOD, "format_version": True}, "format_version: True is not a format version"),
    ({**GOOD, "format_version": False}, "format_version: False is not a format version"),
    ({**GOOD, "format_version": 1.0}, "format_version: 1.0 is not a format version"),
    ({**GOOD, "format_version": "1"}, "format_version: '1' is not a format version"),
    ({**GOOD, "format_version": [1]}, "format_version: [1] is not a format version"),
    ({**GOOD, "format_version": None}, "format_version: missing"),
    ({**GOOD, "format_version": 2}, "format_version: 2 is newer than this version of nas-core reads"),
    ({**GOOD, "reduction": []}, "architecture: unknown key 'reduction' (known: format_version, space, normal, reduce)"),
    ({**GOOD, "a": 1, "b": 2, "c": 3, "d": 4}, "architecture: unknown keys 'a', 'b', 'c', ..."),
    ({**GOOD, "x" * 500: 1}, "architecture: unknown key 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."),
    ({**GOOD, "\x1b]0;pwned\x07": 1}, "unknown key '\\x1b]0;pwned\\x07'"),
    (with_block(op=["identity"]), "normal cell, block 0: unknown key 'op' (known: inputs, ops)"),
    (with_block(weight=1.0), "normal cell, block 0: unknown key 'weight'"),
])
def test_refused_with_one_line(data, message):
    for given in (data, json.dumps(data)):
        with pytest.raises(ArchitectureError) as err:
            Architecture.from_json(given)
        assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000 + "]" * 100_000, "malformed JSON: maximum recursion depth exceeded"),
    ('{"format_version": ' + "9" * 5001 + "}", "malformed JSON: Exceeds the limit (4300 digits)"),
    ("", "malformed JSON: Expecting value"),
])
def test_hostile_text_is_one_line(text, message):
    with pytest.raises(ArchitectureError) as err:
        Architecture.from_json(text)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert "set_int_max_str_digits" not in str(err.value)  # Python's advice is not the user's


def test_good_json_still_round_trips():
    for space in ("tiny", "bender2018"):
        arch = get_space(space).sample(torch.Generator().manual_seed(3))
        assert Architecture.from_json(arch.to_json()) == arch
        assert Architecture.from_json(arch.to_json(indent=2)) == arch
        assert Architecture.from_json(arch.to_dict()) == arch
