"""The hostile-input suite (issue 14, "Tests that keep it so"): what a hostile-but-honest user can
type or hand over, through the real `nas` CLI. Every case asserts the same four things
(:func:`refused`): exit code 2, exactly one line on stderr (``error: ...``), no traceback (and no
raw ESC byte) anywhere in the output, and no file created, changed or removed under the working
folder or the folders the case watches.

Cases run in-process with Typer's ``CliRunner`` (what ``nas`` runs, minus the process start), each
in a fresh working folder that is also the data cache (``NAS_DATA_DIR``); downloads are refused.
``test_real_executable.py`` runs a sample through ``.venv/bin/nas`` to show the two agree.

Add a case: a row in the table of its kind (options, arch files, run folders, models and images);
the row names the arguments, the files to make first and a part of the expected message.
Shared, built once per session: a tiny one-shot model (:func:`supernet`), a tiny trained network
(:func:`model_dir`) and its ONNX file with hostile class names (:func:`onnx_file`).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest
import torch
import typer.main
import typer.testing
from typer.testing import CliRunner

from nas_cli.main import app

RUNNER = CliRunner()
CASES = {"count": 0}  # refusals checked this session (printed at the end of a serial run)


def make(root: Path, files: dict) -> None:
    """Make ``files`` under ``root``: name -> bytes, text, or a function that makes the path
    (``os.mkfifo``, a link, a folder)."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        else:
            path.write_bytes(content.encode() if isinstance(content, str) else content)


def snapshot(*roots: Path) -> dict[str, tuple]:
    """Every entry under ``roots``, without following links or opening anything but folders:
    a file's size, inode and modification time; a link's target; another entry's type."""
    seen = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            for name in dirs + files:
                path = os.path.join(folder, name)
                st = os.lstat(path)
                if stat.S_ISREG(st.st_mode):
                    seen[path] = ("file", st.st_size, st.st_ino, st.st_mtime_ns)
                elif stat.S_ISLNK(st.st_mode):
                    seen[path] = ("link", os.readlink(path))
                else:
                    seen[path] = (stat.S_IFMT(st.st_mode),)
    return seen


def one_error_line(code: int, stdout: str, stderr: str) -> str:
    """The checks of every case but the files: exit 2, one ``error:`` line on stderr, no traceback,
    no ESC byte on either stream; returns the line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2, (code, stdout, stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for stream in (stdout, stderr):
        assert "Traceback" not in stream and "\x1b" not in stream and "\x9b" not in stream, repr(stream)
    return lines[0]


@pytest.fixture(scope="module", autouse=True)
def command_built_once():
    """Typer builds the click command of ``app`` anew on each ``CliRunner.invoke`` (90% of the
    time of a refusal): build it once per module; the command is the same object `nas` runs."""
    command = typer.main.get_command(app)
    build = typer.testing._get_command
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(typer.testing, "_get_command", lambda other: command if other is app else build(other))
        yield


@pytest.fixture(autouse=True)
def hostile_env(tmp_path, monkeypatch, alarm):
    """Each case: a fresh working folder, which is also the data cache; no download; no
    ``NAS_TRACEBACK``; 60 s at most (``alarm``: a FIFO opened by mistake fails the case)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("NAS_TRACEBACK", raising=False)

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError(f"offline in tests: {url}")

    monkeypatch.setattr("nas_core.data._download.fetch_url", offline)


@pytest.fixture
def refused(tmp_path):
    """``refused(args, files={}, message="", watch=())``: make ``files`` in the working folder,
    run ``nas ARGS`` and check the refusal; ``watch``: more folders that must stay unchanged.
    Returns the error line."""

    def check(args: list[str], files: dict | None = None, message: str = "", watch=()) -> str:
        make(tmp_path, files or {})
        before = snapshot(tmp_path, *watch)
        result = RUNNER.invoke(app, [str(a) for a in args])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
        line = one_error_line(result.exit_code, result.stdout, result.stderr)
        assert message in line, (message, line)
        assert snapshot(tmp_path, *watch) == before, "files changed"
        CASES["count"] += 1
        return line

    return check


@pytest.fixture
def refused_by_nas(tmp_path):
    """:func:`refused` through the real executable (``.venv/bin/nas``) in a process of its own."""
    nas = Path(sys.executable).with_name("nas")
    command = [str(nas)] if nas.exists() else [sys.executable, "-m", "nas_cli.main"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NAS_DATA_DIR": str(tmp_path / "cache")}
    env.pop("NAS_TRACEBACK", None)

    def check(args: list[str], files: dict | None = None, message: str = "") -> str:
        make(tmp_path, files or {})
        before = snapshot(tmp_path)
        done = subprocess.run([*command, *map(str, args)], capture_output=True, env=env, cwd=tmp_path,
                              stdin=subprocess.DEVNULL, timeout=120)
        stdout, stderr = (os.fsdecode(b) for b in (done.stdout, done.stderr))
        line = one_error_line(done.returncode, stdout, stderr)
        assert message in line, (message, line)
        assert snapshot(tmp_path) == before, "files changed"
        CASES["count"] += 1
        return line

    return check


def pytest_terminal_summary(terminalreporter):
    if CASES["count"]:
        terminalreporter.write_line(f"hostile-input suite: {CASES['count']} refusals checked (exit 2, one line, "
                                    "no traceback, no new files)")


# -- what the cases damage, made once ---------------------------------------------------------------

TINY = ["--dataset", "synthetic", "--image-size", "12", "--subset", "320", "--width", "4", "--cells-per-stack", "1",
        "--batch-size", "32", "--device", "cpu"]


@pytest.fixture(scope="session")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def supernet(tmp_path_factory, one_thread) -> Path:
    """A tiny one-shot model (space tiny, width 4, 12x12 synthetic images) trained 4 steps, with
    checkpoints at steps 2 and 4, as `nas supernet train` leaves it."""
    out = tmp_path_factory.mktemp("hostile") / "supernet"
    result = RUNNER.invoke(app, ["supernet", "train", "--out", str(out), "--space", "tiny", "--ghost-batch", "16",
                                 "--steps", "4", "--checkpoint-every", "2", *TINY])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, one_thread) -> Path:
    """A tiny network trained 2 steps on 12x12 synthetic images, as `nas train` leaves it."""
    folder = tmp_path_factory.mktemp("hostile")
    arch = get_arch(1)
    (folder / "arch.json").write_text(arch.to_json())
    out = folder / "model"
    result = RUNNER.invoke(app, ["train", "--arch", str(folder / "arch.json"), "--out", str(out), "--steps", "2",
                                 *TINY])
    assert result.exit_code == 0, result.output
    return out


HOSTILE_CLASSES = ("\x1b]0;pwned\x07cat", "\x1b[2Jdog", "\u202eowl", "eel\x9b31m")


@pytest.fixture(scope="session")
def onnx_file(tmp_path_factory, one_thread) -> Path:
    """An RGB 12x12 model of 4 classes whose names (and data set) are terminal escape sequences."""
    from nas_core import NetworkConfig, build_network
    from nas_export import ModelInfo, export_network

    torch.manual_seed(0)
    net = build_network(get_arch(0), NetworkConfig(width=4, cells_per_stack=1, in_channels=3, num_classes=4)).eval()
    info = ModelInfo(get_arch(0), net.config, HOSTILE_CLASSES, 12, (0.5,) * 3, (0.25,) * 3, "synthetic\x1b[31m")
    out = tmp_path_factory.mktemp("hostile") / "model.onnx"
    x = torch.randint(0, 256, (8, 3, 12, 12), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    export_network(net, info, out, images=x)
    return out


def get_arch(seed: int):
    from nas_core import get_space

    return get_space("tiny").sample(torch.Generator().manual_seed(seed))
