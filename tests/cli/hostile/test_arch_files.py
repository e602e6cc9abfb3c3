"""Hostile architecture files (issue 14, parts 1 and 4) through `nas space validate` and `nas train
--arch`: bytes that are not UTF-8 text, JSON nested or numbered beyond what Python reads, keys and
versions this code does not know, wrong types, files that are not files; then whatever Hypothesis
makes of JSON values, of a valid architecture's fields and of raw bytes. Each is refused with
exit 2 and one line (``conftest.refused``); a file that happens to be valid is accepted (exit 0).

Hypothesis runs derandomized (the same examples on every machine), without deadlines.
"""

from __future__ import annotations

import json
import os

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from nas_cli.main import app
from nas_core import Architecture, get_space

ARCH = get_space("tiny").sample(torch.Generator().manual_seed(1))
GOOD = ARCH.to_dict()
TEXT = ARCH.to_json()
VALIDATE = ["space", "validate", "arch.json"]
TRAIN = ["train", "--arch", "arch.json", "--out", "out", "--steps", "2", "--dataset", "synthetic", "--image-size", "12",
         "--subset", "320", "--width", "4", "--cells-per-stack", "1", "--batch-size", "32", "--device", "cpu"]
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def changed(**fields) -> str:
    """The valid architecture with ``fields`` replaced (None: removed)."""
    data = {k: v for k, v in {**GOOD, **fields}.items() if v is not None or k not in fields}
    return json.dumps(data)


def block(**fields) -> str:
    """The valid architecture with ``fields`` replaced in its first normal block."""
    cells = json.loads(TEXT)
    cells["normal"][0] = {**cells["normal"][0], **fields}
    return json.dumps(cells)


def dangling(path):
    path.symlink_to(path.with_name("nowhere.json"))


def loop(path):
    path.symlink_to(path.name)


BAD = {
    # bytes that are not UTF-8 JSON
    "latin-1": TEXT.replace('"tiny"', '"tin\xe9"').encode("latin-1"),
    "utf-16": TEXT.encode("utf-16"),
    "utf-16-le no bom": TEXT.encode("utf-16-le"),
    "utf-32": TEXT.encode("utf-32"),
    "nul bytes": TEXT.encode()[:20] + b"\0" * 8,
    "binary": bytes(range(256)),
    "empty": b"",
    "whitespace": b" \n\t ",
    "bom only": b"\xef\xbb\xbf",
    "truncated": TEXT.encode()[: len(TEXT) // 2],
    "trailing garbage": TEXT.encode() + b"}",
    "two documents": (TEXT + TEXT).encode(),
    "deep list": b"[" * 100_000 + b"]" * 100_000,
    "deep object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "5001 digits": b'{"format_version": ' + b"9" * 5001 + b"}",
    "5001 digits deep inside": block(inputs=[0]).replace("[0]", "[" + "9" * 5001 + "]").encode(),
    "huge float": changed(format_version=1e308 * 10).encode(),
    "NaN": changed(format_version=float("nan")).encode(),
    "Infinity input": block(inputs=[0]).replace("[0]", "[Infinity]").encode(),
    "escape in name": changed(space="tiny\x1b]0;pwned\x07").encode(),
    "lone surrogate": changed(space="\ud800").encode(),
    # JSON of the wrong shape
    "a list": b"[]",
    "a string": b'"tiny"',
    "a number": b"1",
    "null": b"null",
    "true": b"true",
    # versions and keys
    "format_version -1": changed(format_version=-1).encode(),
    "format_version 0": changed(format_version=0).encode(),
    "format_version true": changed(format_version=True).encode(),
    "format_version 1.0": changed(format_version=1.0).encode(),
    "format_version '1'": changed(format_version="1").encode(),
    "format_version 99": changed(format_version=99).encode(),
    "format_version 2**70": changed(format_version=2**70).encode(),
    "no format_version": changed(format_version=None).encode(),
    "unknown key": changed(reduction=GOOD["reduce"]).encode(),
    "unknown block key": block(op=["sep3x3"]).encode(),
    "no space": changed(space=None).encode(),
    "no reduce cell": changed(reduce=None).encode(),
    "unknown space": changed(space="nope").encode(),
    "space number": changed(space=1).encode(),
    "space list": changed(space=["tiny"]).encode(),
    # wrong types and values inside
    "cell a dict": changed(normal={"0": GOOD["normal"][0]}).encode(),
    "cell a string": changed(normal="0,1>id").encode(),
    "no blocks": changed(normal=[]).encode(),
    "too many blocks": changed(normal=GOOD["normal"] * 3).encode(),
    "block a list": changed(normal=[[0], *GOOD["normal"][1:]]).encode(),
    "inputs bool": block(inputs=[True]).encode(),
    "inputs float": block(inputs=[0.0]).encode(),
    "inputs string": block(inputs=["0"]).encode(),
    "inputs negative": block(inputs=[-1]).encode(),
    "inputs out of range": block(inputs=[99]).encode(),
    "inputs 2**64": block(inputs=[2**64]).encode(),
    "inputs empty": block(inputs=[]).encode(),
    "inputs duplicate": block(inputs=[0, 0]).encode(),
    "inputs too many": block(inputs=[0, 1, 0, 1, 0]).encode(),
    "inputs null": block(inputs=None).encode(),
    "ops unknown": block(ops=["conv99"]).encode(),
    "ops number": block(ops=[1]).encode(),
    "ops empty": block(ops=[]).encode(),
    "ops duplicate": block(ops=[GOOD["normal"][0]["ops"][0]] * 2).encode(),
    "ops escape": block(ops=["\x1b[2Jsep3x3"]).encode(),
    "ops nested": block(ops=[["sep3x3"]]).encode(),
}
FILES = {
    "missing": None,
    "folder": lambda path: path.mkdir(),
    "fifo": os.mkfifo,
    "dangling link": dangling,
    "link loop": loop,
}


def cases():
    for name, command in (("validate", VALIDATE), ("train", TRAIN)):
        for kind, content in BAD.items():
            yield pytest.param(command, {"arch.json": content}, id=f"{name} {kind}")
        for kind, make in FILES.items():
            yield pytest.param(command, {} if make is None else {"arch.json": make}, id=f"{name} {kind}")


@pytest.mark.parametrize("args, files", list(cases()))
def test_a_hostile_arch_file_is_refused(refused, args, files):
    refused(args, files, "arch.json")


# -- Hypothesis: any JSON value, any field of a valid architecture, any bytes ------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20)


def is_valid(content: bytes) -> bool:
    """What the library says of the file (the oracle where a field was replaced at random)."""
    try:
        arch = Architecture.from_json(content.decode("utf-8-sig"))
        get_space(arch.space).validate(arch)
    except (ValueError, KeyError):  # not UTF-8, an ArchitectureError, an unknown space
        return False
    return True


def check(refused, tmp_path, content: bytes) -> None:
    """Refused, or (only where the library accepts the file) accepted with exit 0."""
    (tmp_path / "arch.json").write_bytes(content)
    if is_valid(content):
        result = CliRunner().invoke(app, VALIDATE)
        assert result.exit_code == 0 and result.stdout.startswith("ok: "), result.output
    else:
        refused(VALIDATE, message="arch.json")


@FUZZ
@given(value=JSON)
@example(value={"format_version": 1, "space": "tiny"})
def test_any_json_value_as_an_architecture(refused, tmp_path, value):
    check(refused, tmp_path, json.dumps(value).encode())


@FUZZ
@given(key=st.sampled_from(sorted(GOOD)), value=JSON)
def test_any_field_of_a_valid_architecture_replaced(refused, tmp_path, key, value):
    check(refused, tmp_path, json.dumps({**GOOD, key: value}).encode())


@FUZZ
@given(cell=st.sampled_from(["normal", "reduce"]), b=st.integers(0, 3), key=st.sampled_from(["inputs", "ops", "x"]),
       value=JSON)
def test_any_field_of_a_block_replaced(refused, tmp_path, cell, b, key, value):
    data = json.loads(TEXT)
    data[cell][b % len(data[cell])][key] = value
    check(refused, tmp_path, json.dumps(data).encode())


@FUZZ
@given(content=st.binary(max_size=200))
def test_any_bytes_as_an_architecture(refused, tmp_path, content):
    check(refused, tmp_path, content)
