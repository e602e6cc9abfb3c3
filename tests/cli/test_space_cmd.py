"""`nas space ...` through Typer's CliRunner."""

import json

import pytest
import torch
from typer.testing import CliRunner

from nas_cli.main import app
from nas_core import Architecture, get_space, list_spaces

runner = CliRunner()


def test_help_everywhere():
    for args in ([], ["space"], ["space", "show"], ["space", "sample"], ["space", "validate"]):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, args
        assert "Usage" in result.output


def test_show_prints_the_exact_size():
    result = runner.invoke(app, ["space", "show", "bender2018"])
    assert result.exit_code == 0
    assert f"{get_space('bender2018').size():,}" in result.output
    assert "2.754e+18" in result.output


def test_list_names_every_space():
    result = runner.invoke(app, ["space", "list"])
    assert result.exit_code == 0
    assert all(name in result.output for name in list_spaces())


@pytest.mark.parametrize("name", list_spaces())
def test_sample_json_round_trips_and_is_seeded(name, tmp_path):
    first = runner.invoke(app, ["space", "sample", name, "--seed", "5", "--json"])
    again = runner.invoke(app, ["space", "sample", name, "--seed", "5", "--json"])
    assert first.exit_code == 0 and first.output == again.output
    arch = Architecture.from_json(first.output)
    get_space(name).validate(arch)
    path = tmp_path / "arch.json"
    path.write_text(first.output)
    result = runner.invoke(app, ["space", "validate", str(path)])
    assert result.exit_code == 0 and arch.id in result.output


def test_sample_one_line_form():
    result = runner.invoke(app, ["space", "sample", "tiny", "--count", "3"])
    lines = result.output.strip().splitlines()
    assert len(lines) == 3
    arch_id, text = lines[0].split()
    assert Architecture.from_string(text).id == arch_id


@pytest.mark.parametrize(
    "content, message",
    [
        ("{oops", "malformed JSON"),
        (json.dumps({"format_version": 1, "space": "tiny", "normal": []}), "reduce cell: missing"),
        (json.dumps({"format_version": 99, "space": "tiny"}), "format_version"),
        (None, "normal cell: has 2 blocks, space 'bender2018' has 4"),
    ],
)
def test_validate_rejects_with_one_line_and_exit_2(tmp_path, content, message):
    if content is None:  # a valid tiny architecture claiming to be from bender2018
        data = get_space("tiny").sample(torch.Generator().manual_seed(0)).to_dict()
        data["space"] = "bender2018"
        content = json.dumps(data)
    path = tmp_path / "arch.json"
    path.write_text(content)
    result = runner.invoke(app, ["space", "validate", str(path)])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_unknown_space_and_missing_file_exit_2(tmp_path):
    result = runner.invoke(app, ["space", "show", "nope"])
    assert result.exit_code == 2 and "unknown search space 'nope'" in result.output
    result = runner.invoke(app, ["space", "validate", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "cannot read" in result.output
