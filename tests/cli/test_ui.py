"""nas_cli._ui: library errors become one line, with the library's arguments named as our flags."""

import pytest
import typer

from nas_cli._ui import flag, user_errors
from nas_core.errors import InputError
from nas_core.train import TrainingDiverged


@pytest.mark.parametrize("argument, value, expected", [
    ("batch_size", None, "--batch-size"),
    ("data_dir", "DIR", "--data-dir DIR"),
    ("resume", "True", "--resume"),
    ("out_dir", None, "--out"),
    ("top_k", None, "--top"),
    ("device", "'cpu'", "--device cpu"),
])
def test_flag_names(argument, value, expected):
    assert flag(argument, value) == expected


def test_user_errors_print_the_hint_with_flags_and_exit_2(capsys):
    with pytest.raises(typer.Exit) as e, user_errors():
        raise InputError("the training split has 40 images, fewer than one batch of 64", hint="lower {batch_size}")
    assert e.value.exit_code == 2
    err = capsys.readouterr().err
    assert "error: the training split has 40 images, fewer than one batch of 64: lower --batch-size" in err
    assert "\n" not in err.strip()


def test_divergence_exits_1_and_bugs_keep_their_traceback():
    with pytest.raises(typer.Exit) as e, user_errors():
        raise TrainingDiverged("loss became nan")
    assert e.value.exit_code == 1
    with pytest.raises(KeyError), user_errors():
        raise KeyError("a bug")
