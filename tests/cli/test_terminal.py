"""The terminal (issue 13, part 4): Ctrl+C, full-width output to files and logs, the summary
table, the search bar's time left, `--version`, `-h`, completion, and download bars."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time

import pytest
import torch
from typer.testing import CliRunner

from nas_cli import _ui
from nas_cli.commands.run import RichPipelineUI
from nas_cli.main import app
from nas_cli.pipeline import PHASES
from nas_core import get_space
from nas_core.data import _idx, load_data

runner = CliRunner()
SMOKE = ["run", "--profile", "smoke", "--device", "cpu", "--trials", "2", "--top", "1"]  # every phase, little work
INTERRUPTED = "interrupted: re-run the same command to continue (checkpoints are kept)"


@pytest.fixture
def log_file(monkeypatch):
    """Output goes to a file, with no terminal anywhere: rich alone would cut lines at 80 columns."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(os, "get_terminal_size", lambda *args: os.terminal_size((80, 24)))


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A smoke run in a subprocess, stopped with SIGINT (Ctrl+C) once it trains the one-shot model."""
    out = tmp_path_factory.mktemp("run") / "run"
    proc = subprocess.Popen([sys.executable, "-m", "nas_cli.main", *SMOKE, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as a shell's job
    try:
        deadline = time.monotonic() + 120
        while not (out / "supernet").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    return out, proc.returncode, stdout, stderr


def test_ctrl_c_says_how_to_resume_and_exits_130(interrupted):
    _, code, stdout, stderr = interrupted
    assert code == 130, stdout + stderr
    assert stderr.strip().splitlines()[-1] == INTERRUPTED
    assert "Traceback" not in stdout + stderr and "KeyboardInterrupt" not in stdout + stderr


def test_the_resumed_run_prints_the_whole_table_to_a_file(interrupted, log_file):
    out, *_ = interrupted
    result = runner.invoke(app, [*SMOKE, "--out", str(out)])
    assert result.exit_code == 0, result.output
    best = json.loads((out / "summary.json").read_text())["best"]
    lines = result.output.splitlines()
    row = next(line for line in lines if line.startswith("│ architecture"))
    assert f"{best['arch_id']}  {best['arch_string']}" in row and len(row) > 80  # whole, on one line
    top = lines.index(row) - 1
    assert lines[top].startswith("┌") and "├" not in "".join(lines[top:])  # no (empty) header row
    phases = next(line for line in lines if line.startswith("│ seconds per phase")).split("│")[2]
    named = [word for word in phases.replace(",", " ").split() if word in PHASES]
    assert len(named) >= 3 and named == sorted(named, key=PHASES.index)  # in run order
    rules = [line for line in lines if "1/5 supernet" in line or "5/5 report" in line]
    assert rules and all(len(line) <= 80 for line in rules)  # section lines stay short in a file


def test_search_bar_shows_time_elapsed_and_left(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(_ui.console, "get_time", lambda: now[0])
    ui = RichPipelineUI()
    ui.trial(4, 10, {})  # resumed: 4 trials were done before
    for t, done in ((10.0, 5), (20.0, 6)):  # one trial every 10 s
        now[0] = t
        ui.trial(done, 10, {"one_shot_accuracy": 0.5})
    bar = ui.search_bar
    clock = bar.columns[-1].render(bar.tasks[0]).plain
    ui.stop()
    assert clock == "0:20 elapsed, ~0:40 left"


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("nas-cli ") and len(result.output.splitlines()) == 1
    for package in ("nas-core", "nas-export"):
        assert f" {package} " in result.output
    assert result.output.rstrip().endswith(f"torch {torch.__version__}")


@pytest.mark.parametrize("command", [[], ["run"], ["space"], ["supernet", "train"], ["ablate", "dropout"]])
def test_dash_h_is_help_everywhere(command):
    result = runner.invoke(app, [*command, "-h"])
    assert result.exit_code == 0, result.output
    assert result.output.lstrip().startswith(" ".join(["Usage: nas", *command]))
    assert result.output == runner.invoke(app, [*command, "--help"]).output


def test_shell_completion():
    assert "--install-completion" in runner.invoke(app, ["--help"]).output
    script = runner.invoke(app, ["--show-completion", "bash"], prog_name="nas")
    assert script.exit_code == 0 and "_NAS_COMPLETE=complete_bash" in script.output
    words = runner.invoke(app, [], prog_name="nas",
                          env={"_NAS_COMPLETE": "complete_bash", "COMP_WORDS": "nas su", "COMP_CWORD": "1"})
    assert words.output.split() == ["supernet"]


def idx_gz(array: torch.Tensor) -> bytes:
    header = bytes((0, 0, 8, array.dim())) + struct.pack(f">{array.dim()}I", *array.shape)
    return gzip.compress(header + bytes(array.view(-1).tolist()))


@pytest.fixture
def server(tmp_path, monkeypatch) -> dict[str, int]:
    """Fashion-MNIST served from local files (``file://`` URLs, read by the real ``fetch_url``),
    verified against their SHA-256s; returns each file's size in bytes."""
    root = tmp_path / "server"
    root.mkdir()
    sums, sizes = {}, {}
    gen = torch.Generator().manual_seed(0)
    for part, n in (("train", 600), ("test", 20)):  # train images: 470 kB, more than one chunk
        images = torch.randint(0, 256, (n, 28, 28), generator=gen, dtype=torch.uint8)
        for base, array in zip(_idx.FILES[part], (images, (torch.arange(n) % 10).to(torch.uint8))):
            data = idx_gz(array)
            (root / f"{base}.gz").write_bytes(data)
            sums[base], sizes[f"{base}.gz"] = hashlib.sha256(gzip.decompress(data)).hexdigest(), len(data)
    monkeypatch.setattr(_idx, "MIRRORS", (root.as_uri() + "/",))
    monkeypatch.setattr(_idx, "GZ_FILES", {n: (s, hashlib.sha256((root / n).read_bytes()).hexdigest())
                                           for n, s in sizes.items()})
    monkeypatch.setattr(_idx, "CONTENT_SHA256", sums)
    monkeypatch.setattr(_idx, "SYSTEM_DIRS", ())
    monkeypatch.setenv("NAS_DATA_DIR", str(tmp_path / "cache"))
    return sizes


def test_download_progress_reaches_the_caller(server):
    calls: list[tuple[int, int | None]] = []
    load_data("fashion-mnist", "test", progress=lambda done, total: calls.append((done, total)))
    starts = [i for i, (done, _) in enumerate(calls) if done == 0]
    files = [calls[a:b] for a, b in zip(starts, starts[1:] + [len(calls)])]
    assert sorted(f[-1][0] for f in files) == sorted(server.values())  # 4 files, each complete
    for f in files:
        done = [d for d, _ in f]
        assert done == sorted(done) and f[-1][0] == f[-1][1] and {t for _, t in f} == {f[-1][0]}
    assert max(len(f) for f in files) >= 3  # the big file in several chunks


def test_a_download_shows_size_and_rate_and_the_data_is_read_once(server, tmp_path, log_file):
    arch = tmp_path / "arch.json"
    arch.write_text(get_space("tiny").sample(torch.Generator().manual_seed(0)).to_json())
    result = runner.invoke(app, ["train", "--arch", str(arch), "--out", str(tmp_path / "out"), "--steps", "1",
                                 "--subset", "20", "--width", "4", "--cells-per-stack", "1", "--batch-size", "10",
                                 "--device", "cpu"])
    assert result.exit_code == 0, result.output
    bars = [line for line in result.output.splitlines() if line.startswith("download ━")]
    assert len(bars) == 4, result.output
    assert all(re.search(r"[\d.]+/[\d.]+ (bytes|[kMG]B) +[\d.]+ (bytes|[kMG]B)/s", bar) for bar in bars), bars
    assert result.output.count("downloading ") == 4
    assert result.output.count(": reading ") == 1, result.output  # the test files; train and val: one read
