"""Run folders that do not fit the command, or are damaged, through the CLI: one line, exit 2,
nothing trained; a damaged newest checkpoint resumes from the one before, with a note; a damaged
``pipeline.json`` is one line naming it."""

import hashlib
import shutil

import pytest
import torch
from typer.testing import CliRunner

from nas_cli._ui import flag
from nas_cli.main import app
from nas_cli.pipeline import Pipeline, PipelineUI, run_config
from nas_core import get_space
from nas_core.train import RunDirError

runner = CliRunner()
DATA = ["--dataset", "synthetic", "--image-size", "12", "--batch-size", "32", "--device", "cpu",
        "--steps", "4", "--checkpoint-every", "2"]


def size(width=4, cells_per_stack=1, subset=320):
    return ["--width", str(width), "--cells-per-stack", str(cells_per_stack), "--subset", str(subset)]


def fingerprint(out):
    """What a run folder holds but its ``*.run.json`` (which each command writes first)."""
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and not p.name.endswith(".run.json")}


def assert_one_line_error(result, *parts):
    """Exit 2, and the output ends with one ``error:`` line (after what the command printed first)."""
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert errors == lines[-1:] and "Traceback" not in result.output, result.output
    for part in parts:
        assert part in errors[0], result.output


def supernet_args(out):
    return ["supernet", "train", "--out", str(out), "--space", "tiny", "--ghost-batch", "16", *DATA]


@pytest.fixture(scope="module")
def supernet(tmp_path_factory):
    out = tmp_path_factory.mktemp("supernet")
    result = runner.invoke(app, [*supernet_args(out), *size()])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("changed, key", [
    (size(width=6), "network.width 4, not 6"),
    (size(cells_per_stack=2), "network.cells_per_stack 1, not 2"),
    (size(subset=160), "data.size 320, not 160"),
])
def test_supernet_resume_with_other_settings_is_refused(supernet, changed, key):
    before = fingerprint(supernet)
    result = runner.invoke(app, [*supernet_args(supernet), *changed, "--resume"])
    assert_one_line_error(result, f"{supernet} holds a checkpoint made with other settings (", key,
                          "use another --out")
    assert fingerprint(supernet) == before  # nothing trained, nothing written


def test_supernet_resume_from_a_damaged_checkpoint_says_so(supernet, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(supernet, out)
    weights = out / "checkpoints" / "step_00000004" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    result = runner.invoke(app, [*supernet_args(out), *size(), "--resume"])
    assert result.exit_code == 0, result.output
    assert "resuming at step 2" in result.output
    assert ("note: checkpoint step_00000004 is damaged (model.safetensors: SHA-256 differs); resuming from "
            "step_00000002") in result.output


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    folder = tmp_path_factory.mktemp("standalone")
    for name, seed in (("arch.json", 1), ("other.json", 2)):
        (folder / name).write_text(get_space("tiny").sample(torch.Generator().manual_seed(seed)).to_json())
    result = runner.invoke(app, [*standalone_args(folder, "arch.json"), *size()])
    assert result.exit_code == 0, result.output
    return folder


def standalone_args(folder, arch):
    return ["train", "--arch", str(folder / arch), "--out", str(folder / "run"), *DATA]


@pytest.mark.parametrize("arch, changed, key", [
    ("other.json", size(), "arch.normal"),
    ("arch.json", size(width=6), "network.width 4, not 6"),
    ("arch.json", size(cells_per_stack=2), "network.cells_per_stack 1, not 2"),
    ("arch.json", size(subset=160), "data.size 320, not 160"),
])
def test_standalone_resume_with_other_settings_is_refused(standalone, arch, changed, key):
    before = fingerprint(standalone / "run")
    result = runner.invoke(app, [*standalone_args(standalone, arch), *changed, "--resume"])
    assert_one_line_error(result, "holds a checkpoint made with other settings (", key)
    assert fingerprint(standalone / "run") == before


@pytest.mark.parametrize("text, why", [
    ('{"config": {"sea', "cannot be read: Unterminated string"),
    ("", "cannot be read: Expecting value"),
    ("\xff", "cannot be read: 'utf-8' codec can't decode"),
    ("[]", "holds no run's state"),
    ('{"config": {}, "phases": {}}', "holds no run's state"),
    ('{"config": {"search": {"trials": 2}, "top_k": 1}, "phases": {"supernet": 1}}', "holds no run's state"),
])
def test_a_damaged_pipeline_json_is_one_line(tmp_path, text, why):
    path = tmp_path / "pipeline.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(RunDirError) as e:
        Pipeline(tmp_path, run_config("smoke", device="cpu")).run()
    message = e.value.render(flag)  # as the CLI prints it
    assert message.startswith(f"{path} {why}"), message
    assert message.endswith(": use another --out or --overwrite") and "\n" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipeline.json"]  # nothing started


def test_a_damaged_summary_json_is_written_again_from_the_finished_phases(tmp_path):
    class Notes(PipelineUI):
        def note(self, message):
            notes.append(message)

    notes = []
    Pipeline(tmp_path, run_config("smoke", device="cpu")).run()
    summary = (tmp_path / "summary.json").read_text()
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.safetensors")}
    for damage in ('{"best": ', "[1, 2]", '{"best": 3}'):
        (tmp_path / "summary.json").write_text(damage)
        notes.clear()
        again = Pipeline(tmp_path, run_config("smoke", device="cpu"), ui=Notes()).run()
        assert (tmp_path / "summary.json").read_text() == summary and isinstance(again["best"], dict)
        assert any("summary.json is missing or damaged" in n for n in notes), notes
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.safetensors")} == mtimes  # nothing trained
