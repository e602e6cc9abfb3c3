"""``nas_core.orphans``: what a killed writer left is removed; a running writer's files, other
names and the targets of links are not."""

import os
import subprocess
import sys

from nas_core.orphans import remove_orphans, running

PATTERN = r"\.stage-(?P<pid>\d+)-\w+"


def dead_pid() -> int:
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)


def test_only_a_dead_writers_entries_go(tmp_path):
    gone = dead_pid()
    assert running(os.getpid()) and not running(gone)
    (tmp_path / f".stage-{gone}-a").mkdir()
    (tmp_path / f".stage-{gone}-a" / "file").write_bytes(b"x")
    (tmp_path / f".stage-{gone}-b").write_bytes(b"x")
    (tmp_path / f".stage-{os.getpid()}-c").write_bytes(b"mine")  # this process runs
    (tmp_path / f"stage-{gone}-d").write_bytes(b"x")  # not the pattern (no dot)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_bytes(b"x")
    (tmp_path / f".stage-{gone}-link").symlink_to(outside, target_is_directory=True)
    removed = remove_orphans(tmp_path, PATTERN)
    assert sorted(p.name for p in removed) == sorted(f".stage-{gone}-{x}" for x in ("a", "b", "link"))
    kept = [f".stage-{os.getpid()}-c", f"stage-{gone}-d", "outside"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)
    assert (outside / "keep").exists()  # the link went, not what it pointed to


def test_a_missing_folder_or_an_impossible_pid_removes_nothing(tmp_path):
    assert remove_orphans(tmp_path / "nope", PATTERN) == []
    (tmp_path / f".stage-{10**30}-a").write_bytes(b"x")  # no process can have this id
    assert remove_orphans(tmp_path, PATTERN) == [] and running(10**30)
