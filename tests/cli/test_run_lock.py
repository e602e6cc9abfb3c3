"""One command per run folder (issue 14, part 3; ``nas_cli._lock``): a second command on a folder
another holds is refused at once, naming the folder and the holder's PID, and the first goes on
unharmed; a lock left by a killed process blocks nothing; ``--overwrite`` never deletes a held
folder; under torchrun only the main rank takes the lock.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nas_cli._lock import HOLDER, LOCK, holder, run_lock
from nas_cli.main import app
from nas_cli.pipeline import run_config

runner = CliRunner()
TINY = ["--dataset", "synthetic", "--image-size", "12", "--subset", "320", "--width", "4",
        "--cells-per-stack", "1", "--batch-size", "32", "--device", "cpu"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def supernet(out: Path, steps: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "nas_cli.main", "supernet", "train", "--out", str(out), "--space", "tiny",
            "--ghost-batch", "16", "--steps", str(steps), "--checkpoint-every", "40", *TINY, *extra]


def wait_for(path: Path, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"no {path} after {seconds} s"
        time.sleep(0.05)


def start(args: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            env=ENV, **kwargs)


def steps_logged(out: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_a_second_command_is_refused_at_once_and_the_first_completes(tmp_path):
    out = tmp_path / "sn"
    first = start(supernet(out, 80))  # about 8 s of training on one core
    try:
        wait_for(out / HOLDER, first)
        began = time.monotonic()
        second = subprocess.run(supernet(out, 80), capture_output=True, text=True, env=ENV, timeout=120)
        refused_in = time.monotonic() - began
        assert first.poll() is None, "the first training ended before the second was refused: lengthen it"
    finally:
        stdout, stderr = first.communicate(timeout=300)
    assert second.returncode == 2, second.stdout + second.stderr
    assert second.stderr.strip() == (f"error: {out} is in use by nas supernet train (pid {first.pid} on "
                                     f"{socket.gethostname()}): wait for it to end, or give another --out")
    assert refused_in < 60  # (the interpreter's start, not the first's training)
    assert first.returncode == 0, stdout + stderr
    assert (out / "checkpoints" / "latest").read_text().strip() == "step_00000080"
    assert steps_logged(out) == list(range(10, 81, 10))  # one writer: no line twice
    assert not (out / LOCK).exists() and not (out / HOLDER).exists()  # gone with the command


def test_a_lock_left_by_a_killed_command_blocks_nothing(tmp_path):
    out = tmp_path / "sn"
    killed = start(supernet(out, 1000))
    try:
        wait_for(out / HOLDER, killed)
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=60)
    assert (out / LOCK).exists() and json.loads((out / HOLDER).read_text())["pid"] == killed.pid  # left behind
    again = subprocess.run(supernet(out, 10, "--resume"), capture_output=True, text=True, env=ENV, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (out / "checkpoints" / "latest").read_text().strip() == "step_00000010"
    assert not (out / LOCK).exists() and not (out / HOLDER).exists()


@pytest.fixture(scope="module")
def held(tmp_path_factory):
    """A run folder (``pipeline.json``, ``best/``) held by another process, as `nas run` would
    (the tests only try to take it)."""
    out = tmp_path_factory.mktemp("held") / "run"
    (out / "best").mkdir(parents=True)
    (out / "best" / "model.onnx").write_bytes(b"keep")
    (out / "pipeline.json").write_text(json.dumps({"config": run_config("smoke").to_dict(), "phases": {}}))
    code = ("import sys\nfrom nas_cli._lock import run_lock\n"
            "with run_lock(sys.argv[1], 'nas run'):\n    print('held', flush=True)\n    sys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=ENV)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield out, proc.pid
    finally:
        proc.communicate(input="", timeout=60)


def test_overwrite_never_deletes_a_held_folder(held):
    out, pid = held
    result = runner.invoke(app, ["run", "--profile", "smoke", "--device", "cpu", "--out", str(out), "--overwrite"])
    assert result.exit_code == 2, result.output
    assert f"{out} is in use by nas run (pid {pid} on" in result.output
    assert (out / "best" / "model.onnx").read_bytes() == b"keep" and (out / "pipeline.json").exists()


@pytest.mark.parametrize("command", [
    ["run", "--profile", "smoke", "--device", "cpu"],
    ["supernet", "train", "--space", "tiny", "--ghost-batch", "16", "--steps", "2", *TINY],
    ["train", "--arch", "ARCH", "--steps", "2", *TINY],
    ["correlate", "--supernet", "SUPERNET", "--device", "cpu"],
    ["ablate", "dropout", "--device", "cpu"],
])
def test_every_command_that_writes_a_run_folder_takes_the_lock(held, tmp_path, command):
    out, pid = held
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({"format_version": 1}))  # (never read: the lock comes first)
    command = [{"ARCH": str(arch), "SUPERNET": str(tmp_path)}.get(a, a) for a in command]
    if command[0] == "train":  # a valid architecture: the command checks it before taking the lock
        result = runner.invoke(app, ["space", "sample", "tiny", "--json"])
        arch.write_text(result.output)
    before = sorted(p.name for p in out.iterdir())
    result = runner.invoke(app, [*command, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert f"is in use by nas run (pid {pid} on" in result.output and result.output.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == before


def test_nas_search_joins_a_held_folder(held):
    out, _ = held  # (it then stops: this run folder has no trained one-shot model)
    result = runner.invoke(app, ["search", "--run", str(out)])
    assert "in use" not in result.output


def test_under_torchrun_only_the_main_rank_takes_the_lock(held, monkeypatch):
    out, _ = held
    for name, value in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "localhost",
                        "MASTER_PORT": "29500"}.items():
        monkeypatch.setenv(name, value)
    with run_lock(out, "nas run"):  # rank 1: shares the folder of its rank 0
        pass


def test_the_holder_is_said_when_known(tmp_path):
    assert holder(tmp_path) == "another command"  # not written yet, or gone
    with run_lock(tmp_path / "x", "nas train"):
        assert holder(tmp_path / "x") == f"nas train (pid {os.getpid()} on {socket.gethostname()})"
        with run_lock(tmp_path / "x", "nas train"):  # this process holds it already: no-op
            pass
        assert (tmp_path / "x" / LOCK).exists()
    assert list((tmp_path / "x").iterdir()) == []
