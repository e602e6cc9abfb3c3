"""`nas supernet train` and `nas train` under torchrun: 2 Gloo ranks on the CPU against one process,
rank 0 alone writing, resume with another world size, a rank killed with SIGKILL and restarted."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from nas_cli.main import app
from nas_core import get_space

pytestmark = pytest.mark.slow
runner = CliRunner()
BIN = Path(sys.executable).parent
DATA = ["--dataset", "synthetic", "--subset", "512", "--image-size", "12", "--device", "cpu"]
SUPERNET = ["supernet", "train", *DATA, "--space", "tiny", "--width", "4", "--cells-per-stack", "1",
            "--batch-size", "64", "--ghost-batch", "16", "--steps", "4", "--checkpoint-every", "2"]


def torchrun(*args: str, ranks: int = 2, extra: tuple[str, ...] = (), **kwargs) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    return subprocess.Popen([str(BIN / "torchrun"), "--standalone", f"--nproc-per-node={ranks}", *extra,
                             "--no-python", str(BIN / "nas"), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, **kwargs)


def finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    return out


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def steps_logged(out: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_two_ranks_train_the_one_shot_model_of_one_process(tmp_path):
    alone, shared = tmp_path / "alone", tmp_path / "shared"
    result = runner.invoke(app, [*SUPERNET, "--out", str(alone)])
    assert result.exit_code == 0, result.output
    out = finish(torchrun(*SUPERNET, "--out", str(shared)))
    assert "training on 2 processes" in out and out.count("one-shot model trained") == 1  # rank 0 talks
    assert steps_logged(shared) == steps_logged(alone) == [2, 4]  # one metrics line per report
    assert sorted(p.name for p in shared.iterdir()) == ["checkpoints", "metrics.jsonl", "supernet_train.run.json"]
    # Same global batch, seeds and masks: the same steps up to the order of sums (weights ~0.5).
    # Training at this size amplifies rounding fast: one process run with 1 and with 2 threads
    # differs by 3e-7 after 2 steps and 2e-4 after 4, so step 2 is the tight check.
    for step, atol in (("step_00000002", 1e-6), ("step_00000004", 1e-3)):
        a, b = weights(alone / "checkpoints" / step), weights(shared / "checkpoints" / step)
        for name in a:
            torch.testing.assert_close(b[name], a[name], rtol=0, atol=atol, msg=f"{step} {name}")
    # Resume the 2-rank run at step 2 with one process: allowed, and said to be no longer bitwise exact.
    shutil.rmtree(shared / "checkpoints" / "step_00000004")
    (shared / "checkpoints" / "latest").write_text("step_00000002\n")
    result = runner.invoke(app, [*SUPERNET, "--out", str(shared), "--resume"])
    assert result.exit_code == 0, result.output
    assert "made with 2" in result.output and "no longer bitwise reproducible" in result.output
    a, b = weights(alone / "checkpoints" / "step_00000004"), weights(shared / "checkpoints" / "step_00000004")
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=0, atol=1e-3, msg=name)


def test_a_world_size_that_does_not_divide_the_batch_is_refused_before_anything_starts(tmp_path):
    # torchrun's environment for rank 0 of 3; the check runs before the process group is joined.
    env = {**os.environ, "RANK": "0", "WORLD_SIZE": "3", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": "1", "OMP_NUM_THREADS": "1"}
    out = tmp_path / "run"
    done = subprocess.run([str(BIN / "nas"), *SUPERNET, "--out", str(out)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
    assert "4 ghost batches of 16, which do not split evenly over 3 processes" in done.stderr
    assert not out.exists()


def _arch_file(tmp_path: Path) -> Path:
    arch = tmp_path / "arch.json"
    arch.write_text(get_space("tiny").sample(torch.Generator().manual_seed(1)).to_json())
    return arch


def standalone(arch: Path, out: Path) -> list[str]:
    return ["train", "--arch", str(arch), "--out", str(out), *DATA, "--width", "4", "--cells-per-stack", "1",
            "--batch-size", "32", "--steps", "60", "--checkpoint-every", "10", "--resume"]


def test_a_rank_killed_under_torchrun_restarts_and_the_run_ends_as_if_uninterrupted(tmp_path):
    arch = _arch_file(tmp_path)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    finish(torchrun(*standalone(arch, whole)))
    proc = torchrun(*standalone(arch, killed), extra=("--max-restarts=1",), start_new_session=True)
    latest = killed / "checkpoints" / "latest"
    deadline = time.monotonic() + 240
    while not latest.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    victim = _rank(proc.pid, 1)
    step_at_kill = latest.read_text().strip()
    os.kill(victim, signal.SIGKILL)
    out = finish(proc)
    assert step_at_kill < "step_00000060", "the run ended before the kill: nothing was restarted"
    assert (killed / "result.json").exists()
    assert steps_logged(killed) == steps_logged(whole)  # no line lost or repeated
    a, b = weights(whole), weights(killed)
    assert all(torch.equal(a[name], b[name]) for name in a), "same world size: resume is exact"
    assert out.count("resuming at step") == 1


def _rank(torchrun_pid: int, rank: int) -> int:
    """The PID of a worker of ``torchrun_pid`` by its RANK (from /proc: Linux)."""
    for child in Path(f"/proc/{torchrun_pid}/task/{torchrun_pid}/children").read_text().split():
        environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        if f"RANK={rank}".encode() in environ:
            return int(child)
    raise AssertionError(f"no worker with RANK={rank}")


def test_nas_run_trains_on_every_process_and_rank_0_does_the_rest(tmp_path):
    out = finish(torchrun("run", "--profile", "smoke", "--device", "cpu", "--out", str(tmp_path / "run")))
    assert out.count("training on 2 processes") == 3  # the one-shot model and the 2 finalists
    assert out.count("nas run: best architecture") == 1 and "Traceback" not in out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert len(summary["finalists"]) == 2 and summary["onnx"]["path"] == "best/model.onnx"
    refused = torchrun("run", "--profile", "smoke", "--device", "cpu", ranks=1)
    assert "give --out" in refused.communicate(timeout=120)[0] and refused.returncode != 0
