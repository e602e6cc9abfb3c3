"""Fault injection (issue 14) on `nas supernet train`, through the real `nas` in subprocesses: kill -9
at a seeded random moment, then the same command: exit 0, valid outputs, no temporary file and the
weights of an uninterrupted run, bit for bit (benchmarks/faults.py runs 20 kills). Then what a timed
kill rarely hits, set up by hand: the temporary files of writers killed mid-write, a torn metrics
line with a truncated newest checkpoint, and a disk that fills up during a checkpoint (a small
tmpfs: root only)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nas_cli.main import app
from nas_cli.pipeline import run_config
from nas_cli.pipeline._outdir import check_run_dir
from nas_core.train.checkpoint import checkpoint_problem

from ._harness import faults, killed

runner = CliRunner()


@pytest.fixture(scope="module")
def supernet(work):
    """An uninterrupted `nas supernet train` (8 steps, a checkpoint every 2)."""
    return faults.reference(faults.supernet_command(), work / "supernet-reference")


def test_supernet_train_survives_kill_9(supernet, work):
    killed(faults.supernet_command(), supernet, work / "supernet-killed")


def rewind(ref, folder, step):
    """A copy of the finished supernet run ``ref`` as a kill after checkpoint ``step`` leaves it:
    later checkpoints gone, ``latest`` naming ``step``, metrics up to it."""
    shutil.copytree(ref.folder, folder)
    checkpoints = folder / "checkpoints"
    for later in checkpoints.glob("step_*"):
        if int(later.name[5:]) > step:
            shutil.rmtree(later)
    (checkpoints / "latest").write_text(f"step_{step:08d}\n")
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    (folder / "metrics.jsonl").write_text("".join(ln + "\n" for ln in lines if json.loads(ln)["step"] <= step))
    return folder


def resume(folder):
    """The same `nas supernet train --resume`, in this process."""
    result = runner.invoke(app, faults.supernet_command().args(folder))
    assert result.exit_code == 0, result.output
    return result.output


def test_writers_killed_mid_write_leave_nothing_after_the_rerun(supernet, tmp_path):
    folder = rewind(supernet, tmp_path / "run", 6)
    partial = folder / "checkpoints" / ".step_00000008.k2j4h6g8.tmp"  # a checkpoint being written
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"\0" * 100)
    for name in (".latest.a1b2c3d4.tmp", ".metrics.jsonl.q9w8e7r6.tmp", "..lock.json.zz00yy11.tmp",
                 ".supernet_train.run.json.m5n6b7v8.tmp"):
        parent = folder / "checkpoints" if name.startswith(".latest") else folder
        (parent / name).write_text("{")
    assert "resuming at step 6" in resume(folder)
    assert faults.problems(faults.supernet_command(), supernet, folder) == []
    assert faults.digests(folder) == supernet.digests


def test_a_torn_metrics_line_and_a_truncated_newest_checkpoint_resume_from_the_one_before(supernet, tmp_path):
    folder = rewind(supernet, tmp_path / "run", 8)  # the finished run: checkpoints 6 and 8
    weights = folder / "checkpoints" / "step_00000008" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with (folder / "metrics.jsonl").open("a") as f:
        f.write('{"accuracy": 0.5, "step": 9')  # killed mid-append
    output = resume(folder)
    assert "resuming at step 6" in output and "checkpoint step_00000008 is damaged" in output
    assert faults.problems(faults.supernet_command(), supernet, folder) == []
    assert faults.digests(folder) == supernet.digests  # steps 7-8 trained again: the same weights


def test_a_run_killed_while_writing_its_first_state_is_still_a_run_folder(tmp_path):
    (tmp_path / "supernet").mkdir()  # the first phase done, then killed while pipeline.json was written
    for name in (".pipeline.json.k2j4h6g8.tmp", "..lock.json.a1b2c3d4.tmp", ".lock"):
        (tmp_path / name).write_text('{"con')
    check_run_dir(tmp_path, run_config("smoke", device="cpu"))  # (not "holds other files")


def pages(path: Path) -> int:
    """4 KiB pages a file takes on tmpfs."""
    return -(-path.stat().st_size // 4096)


def mount_tmpfs(folder: Path, size: int) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk needs a small tmpfs: mounting one needs root")
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:  # a container without CAP_SYS_ADMIN
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


@pytest.mark.slow
def test_a_full_disk_during_a_checkpoint_keeps_the_one_before(supernet, tmp_path):
    checkpoint = sum(pages(p) for p in (supernet.folder / "checkpoints" / "step_00000008").iterdir())
    others = sum(pages(p) for p in supernet.folder.glob("*") if p.is_file()) + 4  # (+ lock files, latest)
    disk = tmp_path / "disk"
    mount_tmpfs(disk, 4096 * (others + 2 * checkpoint + checkpoint // 2))  # the third checkpoint cannot fit
    try:
        out = disk / "run"
        args = [str(faults.BIN / "nas"), *faults.supernet_command().args(out)]
        full = subprocess.run(args, capture_output=True, text=True, env=faults.ENV)
        assert full.returncode == 2, full.stdout + full.stderr
        assert full.stderr.strip() == f"error: cannot use {out / 'checkpoints' / 'step_00000006'}: No space left on " \
                                      "device", full.stderr
        checkpoints = out / "checkpoints"
        assert (checkpoints / "latest").read_text() == "step_00000004\n"
        assert checkpoint_problem(checkpoints / "step_00000004") is None  # the one before survives
        assert sorted(p.name for p in checkpoints.iterdir()) == ["latest", "step_00000002", "step_00000004"]
        subprocess.run(["mount", "-o", "remount,size=16m", str(disk)], check=True)  # space freed
        resumed = subprocess.run(args, capture_output=True, text=True, env=faults.ENV)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "resuming at step 4" in resumed.stdout
        assert faults.problems(faults.supernet_command(), supernet, out) == []
        assert faults.digests(out) == supernet.digests
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
