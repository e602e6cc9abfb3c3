"""The one reader of the JSON files a run keeps: every damage is a one-line reason naming the file."""

import os

import pytest

from nas_core.jsonfile import UnreadableJson, read_json, read_json_object
from nas_core.train.rundir import RunDirError, guard_settings


def _link_to_nothing(path):
    path.symlink_to(path.with_name("gone"))


def _folder(path):
    path.mkdir()


DAMAGES = [
    (lambda p: None, "is missing"),
    (_link_to_nothing, "is a link to nothing"),
    (_folder, "is not a regular file"),
    (os.mkfifo, "is not a regular file"),  # reading it would wait forever
    (lambda p: p.write_text('{"a": '), "cannot be read: Expecting value: line 1 column 7 (char 6)"),
    (lambda p: p.write_bytes(b"\xff"), "cannot be read: 'utf-8' codec can't decode byte 0xff"),
    (lambda p: p.write_text("9" * 5001), "cannot be read: Exceeds the limit (4300 digits) for integer string "
                                         "conversion: value has 5001 digits"),
    (lambda p: p.write_text("[" * 100_000), "cannot be read: maximum recursion depth exceeded"),
]


@pytest.mark.parametrize("damage, why", DAMAGES)
def test_a_damaged_file_is_one_line_naming_it(tmp_path, damage, why):
    path = tmp_path / "state.json"
    damage(path)
    with pytest.raises(UnreadableJson) as e:
        read_json(path)
    assert e.value.path == path and e.value.why.startswith(why)
    assert str(e.value) == f"{path} {e.value.why}" and "\n" not in str(e.value)


def test_an_object_is_required_where_one_is_expected(tmp_path):
    path = tmp_path / "result.json"
    path.write_text("[1, 2]")
    assert read_json(path) == [1, 2]
    with pytest.raises(UnreadableJson, match=r"result\.json holds no JSON object$"):
        read_json_object(path)
    path.write_text('{"val": 1}')
    assert read_json_object(path) == {"val": 1}


@pytest.mark.parametrize("damage, why", DAMAGES[2:] + [(lambda p: p.write_text("[]"), "holds no JSON object")])
def test_damaged_recorded_settings_are_refused_in_one_line(tmp_path, damage, why):
    # (seen: a torn settings.json of a shared --standalone-dir, or study.json of a correlation
    # study, reached the user as a JSONDecodeError traceback)
    path = tmp_path / "settings.json"
    damage(path)
    with pytest.raises(RunDirError) as e:
        guard_settings(path, {"epochs": 2}, what="stand-alone results", hint="use another {standalone_dir}")
    assert str(e.value).startswith(f"{path} {why}") and "\n" not in str(e.value)
    assert e.value.hint == "use another {standalone_dir}"
