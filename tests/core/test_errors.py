"""nas_core.errors: facts from the library, advice rendered in the caller's words."""

import pickle

import pytest

from nas_core.data import DataError
from nas_core.errors import InputError
from nas_core.train import RunDirError, require_same


def test_hint_names_arguments_for_a_library_user():
    e = InputError("the training split has 40 images, fewer than one batch of 64",
                   hint="lower {batch_size} or pass {data_dir=DIR}")
    assert str(e) == ("the training split has 40 images, fewer than one batch of 64: "
                      "lower batch_size or pass data_dir=DIR")
    assert e.arguments == ["batch_size", "data_dir"]


def test_render_lets_the_caller_name_the_arguments():
    e = DataError("not found", hint="pass {data_dir=DIR}")
    assert e.render(lambda name, value: f"--{name.replace('_', '-')} {value}") == "not found: pass --data-dir DIR"
    assert InputError("plain fact").render(lambda *_: "unused") == "plain fact"


def test_errors_survive_pickling_with_both_parts():
    e = pickle.loads(pickle.dumps(RunDirError("busy", hint="use another {out_dir}")))
    assert isinstance(e, RunDirError) and (e.message, e.hint) == ("busy", "use another {out_dir}")


def test_require_same_names_each_difference_with_both_values():
    with pytest.raises(RunDirError) as e:
        require_same({"data": {"size": 10, "name": "a"}, "seed": 0}, {"data": {"size": 12, "name": "a"}, "seed": 0},
                     where="runs/x", what="a run", hint="use another {out}")
    assert str(e.value) == "runs/x holds a run made with other settings (data.size 10, not 12): use another out"
    require_same({"shape": (1, 2)}, {"shape": [1, 2]}, where="x", what="y", hint="")  # as JSON reads back: same
