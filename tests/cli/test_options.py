"""Options shared by the commands (`nas_cli._options`)."""

import typing

from typer.models import OptionInfo

from nas_cli.main import app


def _callbacks(typer_app):
    for command in typer_app.registered_commands:
        yield command.callback
    for group in typer_app.registered_groups:
        yield from _callbacks(group.typer_instance)


def test_every_data_dir_option_resolves_to_an_absolute_path():
    """The same folder given as a relative or an absolute path is the same data: stand-alone
    results and studies recorded with one must be accepted with the other."""
    found = []
    for callback in _callbacks(app):
        hint = typing.get_type_hints(callback, include_extras=True).get("data_dir")
        if hint is not None:
            option = next(m for m in hint.__metadata__ if isinstance(m, OptionInfo))
            found.append((callback.__name__, option.resolve_path))
    assert len(found) >= 7, found  # supernet train, train, run, correlate, ablate dropout, predict, export
    assert all(resolves for _, resolves in found), found


def test_every_command_lets_glibc_reuse_freed_memory(monkeypatch):
    from typer.testing import CliRunner

    import nas_cli.main

    calls = []
    monkeypatch.setattr(nas_cli.main, "reuse_freed_memory", lambda: calls.append(1))
    result = CliRunner().invoke(app, ["space", "list"])
    assert result.exit_code == 0, result.output
    assert calls == [1]
