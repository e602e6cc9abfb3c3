"""`nas supernet train` and `nas train` end to end on synthetic data (tiny settings)."""

import json

import torch
from typer.testing import CliRunner

from nas_cli.main import app
from nas_core import get_space

runner = CliRunner()
TINY = ["--dataset", "synthetic", "--image-size", "12", "--subset", "320", "--width", "4",
        "--cells-per-stack", "1", "--batch-size", "32", "--device", "cpu"]


def test_supernet_train_writes_a_resumable_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "sn"
    args = ["supernet", "train", "--out", str(out), "--space", "tiny", "--steps", "6",
            "--ghost-batch", "16", "--checkpoint-every", "3", "--data-dir", "data", *TINY]
    result = runner.invoke(app, ["--threads", "1", *args])
    assert result.exit_code == 0, result.output
    assert "one-shot model trained" in result.output
    assert (out / "checkpoints" / "latest").read_text().strip() == "step_00000006"
    info = json.loads((out / "supernet_train.run.json").read_text())
    assert info["config"]["steps"] == 6 and "nas-core" in info["versions"] and "git_revision" in info
    assert info["threads"] == 1  # results are bitwise reproducible for a fixed thread count
    assert info["data"]["data_dir"] == str(tmp_path / "data")  # recorded absolute, as given relative
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--resume" in again.output
    resumed = runner.invoke(app, [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "resuming at step 6" in resumed.output


def test_train_a_sampled_architecture(tmp_path):
    arch = get_space("tiny").sample(torch.Generator().manual_seed(1))
    path = tmp_path / "arch.json"
    path.write_text(arch.to_json())
    out = tmp_path / "standalone"
    result = runner.invoke(app, ["train", "--arch", str(path), "--out", str(out), "--steps", "10", *TINY])
    assert result.exit_code == 0, result.output
    assert "val accuracy" in result.output and "test accuracy" in result.output
    saved = json.loads((out / "result.json").read_text())
    assert saved["arch_id"] == arch.id and 0 <= saved["val"]["accuracy"] <= 1


def test_show_config_prints_and_exits(tmp_path):
    result = runner.invoke(app, ["supernet", "train", "--out", str(tmp_path), "--lr", "0.3", "--show-config"])
    assert result.exit_code == 0
    assert json.loads(result.output)["lr"] == 0.3
    assert not any(tmp_path.iterdir())


def test_user_errors_are_one_line_exit_2(tmp_path):
    cases = [
        (["supernet", "train", "--out", str(tmp_path / "a"), "--dataset", "nope"], "unknown"),
        (["supernet", "train", "--out", str(tmp_path / "b"), "--batch-size", "40"], "multiple of"),
        (["supernet", "train", "--out", str(tmp_path / "c"), "--space", "nope", *TINY],
         "unknown search space"),
        (["train", "--arch", str(tmp_path / "missing.json"), "--out", str(tmp_path / "d")], "cannot read"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_a_thread_count_that_cannot_be_is_one_line_and_exit_2(tmp_path):
    result = runner.invoke(app, ["--threads", "0", "supernet", "train", "--out", str(tmp_path / "sn"), *TINY])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: ") and len(result.output.strip().splitlines()) == 1
    assert "threads must be 'auto' or a whole number" in result.output
    assert not (tmp_path / "sn").exists()
    result = runner.invoke(app, ["supernet", "train", "--out", str(tmp_path / "sn"), *TINY], env={"NAS_THREADS": "x"})
    assert result.exit_code == 2 and "NAS_THREADS" in result.output
