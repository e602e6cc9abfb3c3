"""One error boundary (issue 14, part 1): a user's mistake is one line on stderr and exit 2, with no
traceback and no file left behind; a bug keeps its traceback, under which one line asks for a report.

Each case runs the real command in-process (``CliRunner``) in a fresh working folder, after the
input files it names are made there: nothing else may appear in the folder.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import typer
from typer.testing import CliRunner

from nas_cli import _options
from nas_cli._ui import BUG, user_errors
from nas_cli.main import app
from nas_cli.pipeline import run_config
from nas_core import get_space
from nas_core.errors import InputError

try:
    runner = CliRunner(mix_stderr=False)  # older click mixes stderr into stdout unless told
except TypeError:
    runner = CliRunner()

TINY = ["--dataset", "synthetic", "--image-size", "12", "--subset", "320", "--width", "4",
        "--cells-per-stack", "1", "--batch-size", "32", "--device", "cpu"]
SUPERNET = ["supernet", "train", "--out", "out", "--space", "tiny", "--ghost-batch", "16", "--steps", "2", *TINY]
TRAIN = ["train", "--arch", "arch.json", "--out", "out", "--steps", "2", *TINY]
RUN = ["run", "--profile", "smoke", "--device", "cpu", "--out", "out"]
CORRELATE = ["correlate", "--supernet", "sn", "--out", "out", "--device", "cpu"]
ABLATE = ["ablate", "dropout", "--out", "out", "--device", "cpu"]
VALIDATE = ["space", "validate", "arch.json"]

ARCH = get_space("tiny").sample(torch.Generator().manual_seed(1)).to_json()
OTHER_RUN = json.dumps({"config": run_config("smoke", seed=1, device="cpu").to_dict(), "phases": {}})
# Files that are not what they claim: the arch JSON and TOML cases of the issue.
BAD_TEXT = {
    "latin-1": (b'{"space": "tiny", "name": "caf\xe9"}', "is not UTF-8 text (byte e9"),
    "utf-16": (ARCH.encode("utf-16"), "is not UTF-8 text (byte ff"),
    "deep": (b"[" * 100_000 + b"]" * 100_000, ""),
    "5001 digits": (b'{"format_version": ' + b"9" * 5001 + b"}", "digits"),
    "empty": (b"", ""),
    "binary": (bytes(range(256)), ""),
}
BAD_TOML = {
    "latin-1": (b'profile = "caf\xe9"\n', "is not UTF-8 text (byte e9"),
    "deep": (b"a = " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested too deeply"),
    "5001 digits": (b"[supernet]\nseed = " + b"9" * 5001 + b"\n", "digits"),
}
FIFO = object()  # a named pipe: reading it would wait forever


def cases():
    """``(id, args, files to make first, part of the message)``."""
    yield from [
        # --out: a file, a path the system refuses
        ("supernet out=file", [*SUPERNET, "--out", "file"], {"file": b"x"}, "is a file, not a folder"),
        ("supernet out=/proc", [*SUPERNET, "--out", "/proc/nas-out"], {}, "cannot create the folder /proc/nas-out"),
        ("supernet out=/dev/null/x", [*SUPERNET, "--out", "/dev/null/x"], {}, "Not a directory"),
        ("supernet out=/sys", [*SUPERNET, "--out", "/sys/nas-out"], {}, "cannot create the folder /sys/nas-out"),
        ("train out=file", [*TRAIN, "--out", "file"], {"arch.json": ARCH, "file": b"x"}, "is a file"),
        ("train out=/dev/null/x", [*TRAIN, "--out", "/dev/null/x"], {"arch.json": ARCH}, "Not a directory"),
        ("run out=file", [*RUN, "--out", "file"], {"file": b"x"}, "is a file, not a folder"),
        ("run out=/proc", [*RUN, "--out", "/proc/nas-out"], {}, "/proc/nas-out"),
        ("run out=/dev/null/x", [*RUN, "--out", "/dev/null/x"], {}, "Not a directory"),
        ("run overwrite out=file", [*RUN, "--out", "file", "--overwrite"], {"file": b"x"}, "is a file"),
        ("correlate out=file", [*CORRELATE, "--out", "file"], {"sn/x": b"", "file": b"x"}, "is a file"),
        ("ablate out=file", [*ABLATE, "--out", "file"], {"file": b"x"}, "is a file"),
        # devices
        *[(f"supernet device {d!r}", [*SUPERNET, "--device", d], {}, "unknown device") for d in ("tpu", "", "meta")],
        ("supernet device cuda:99", [*SUPERNET, "--device", "cuda:99"], {}, "cuda:99"),
        ("train device tpu", [*TRAIN, "--device", "tpu"], {"arch.json": ARCH}, "unknown device 'tpu'"),
        ("run device tpu", [*RUN, "--device", "tpu"], {}, "unknown device 'tpu'"),
        ("run device meta", [*RUN, "--device", "meta"], {}, "unknown device 'meta'"),
        ("run device cuda:99", [*RUN, "--device", "cuda:99"], {}, "cuda:99"),
        ("correlate device tpu", [*CORRELATE, "--device", "tpu"], {"sn/x": b""}, "unknown device"),
        # seeds: torch takes 64 bits
        ("supernet seed 2**70", [*SUPERNET, "--seed", str(2**70)], {}, "64-bit seeds"),
        ("supernet seed -1", [*SUPERNET, "--seed", "-1"], {}, "64-bit seeds"),
        ("train seed 2**64", [*TRAIN, "--seed", str(2**64)], {"arch.json": ARCH}, "64-bit seeds"),
        ("run seed 2**70", [*RUN, "--seed", str(2**70)], {}, "64-bit seeds"),
        ("run --set seed 2**70", [*RUN, "--set", f"supernet.seed={2**70}"], {}, "supernet.seed"),
        ("space sample seed 2**70", ["space", "sample", "tiny", "--seed", str(2**70)], {}, "64-bit seeds"),
        ("correlate seed 2**70", [*CORRELATE, "--seed", str(2**70)], {"sn/x": b""}, "64-bit seeds"),
        ("ablate model seed 2**70", [*ABLATE, "--model-seeds", f"0,{2**70}"], {}, "--model-seeds"),
        # schedules that never end
        ("supernet epochs inf", [*SUPERNET[:-len(TINY) - 2], "--epochs", "inf", *TINY], {}, "epochs"),
        ("supernet epochs 1e300", [*SUPERNET[:-len(TINY) - 2], "--epochs", "1e300", *TINY], {}, "at most 1,000,000"),
        ("supernet steps 10**12", [*SUPERNET, "--steps", str(10**12)], {}, "1,000,000,000"),
        ("supernet 10**9+ steps of data", [*SUPERNET[:-len(TINY) - 2], *TINY, "--epochs", "999999", "--subset", "5000",
                                           "--batch-size", "1", "--ghost-batch", "1"], {}, "steps"),
        ("train epochs inf", [*TRAIN[:-len(TINY) - 2], "--epochs", "inf", *TINY], {"arch.json": ARCH}, "epochs"),
        ("run supernet epochs inf", [*RUN, "--supernet-epochs", "inf"], {}, "supernet.epochs"),
        ("run standalone epochs 1e300", [*RUN, "--standalone-epochs", "1e300"], {}, "standalone.epochs"),
        ("run --set epochs inf", [*RUN, "--set", "supernet.epochs=inf"], {}, "supernet.epochs"),
        ("run --set lr nan", [*RUN, "--set", "standalone.lr=nan"], {}, "standalone.lr"),
        ("supernet lr inf", [*SUPERNET, "--lr", "inf"], {}, "lr inf"),
        ("train weight decay inf", [*TRAIN, "--weight-decay", "inf"], {"arch.json": ARCH}, "weight_decay"),
        # sizes beyond any machine
        ("supernet width 10**6", [*SUPERNET, "--width", "1000000"], {}, "between 2 and 1024"),
        ("train width 10**6", [*TRAIN, "--width", "1000000"], {"arch.json": ARCH}, "between 2 and 1024"),
        ("run width 10**6", [*RUN, "--width", "1000000"], {}, "supernet.width"),
        ("supernet cells 1000", [*SUPERNET, "--cells-per-stack", "1000"], {}, "cells per stack"),
        ("supernet image size 10**5", [*SUPERNET, "--image-size", "100000"], {}, "from 8 to 512"),
        ("train image size 10**5", [*TRAIN, "--image-size", "100000"], {"arch.json": ARCH}, "from 8 to 512"),
        ("run image size 10**5", [*RUN, "--image-size", "100000"], {}, "from 8 to 512"),
        ("supernet batch > data", [*SUPERNET, "--batch-size", "1024"], {}, "fewer than one batch"),
        ("run trials 10**12", [*RUN, "--trials", str(10**12)], {}, "trials"),
        ("run workers 10**6", [*RUN, "--workers", str(10**6)], {}, "workers"),
        ("space sample count 10**12", ["space", "sample", "tiny", "--count", str(10**12)], {}, "--count"),
        ("dashboard port 70000", ["dashboard", ".", "--port", "70000"], {}, "--port"),
        # run folders that cannot take this run
        ("run out=notes", [*RUN, "--out", "notes"], {"notes/thesis.tex": b"keep", "notes/best/model.onnx": b"keep"},
         "not a run folder"),  # (a run there used to replace best/)
        ("run out=another run", RUN, {"out/pipeline.json": OTHER_RUN, "out/best/model.onnx": b"keep"},
         "other settings"),
        ("run overwrite notes", [*RUN, "--out", "notes", "--overwrite"], {"notes/thesis.tex": b"keep"},
         "not a run folder"),
        ("run torn pipeline.json", RUN, {"out/pipeline.json": OTHER_RUN[:40], "out/best/model.onnx": b"keep"},
         "pipeline.json"),
        ("search run=file", ["search", "--run", "file"], {"file": b"x"}, "not a `nas run` folder"),
        ("search run=empty folder", ["search", "--run", "sn"], {"sn/x": b""}, "not a `nas run` folder"),
        ("correlate no supernet", [*CORRELATE, "--supernet", "nope"], {}, "no such folder"),
        # default out: the run folder made for a run refused in its first phase goes, and its link
        ("run default out, no data", ["run", "--profile", "smoke", "--device", "cpu", "--dataset", "cifar10",
                                      "--data-dir", "nonexistent"], {}, "nonexistent"),
        # config files and --set values that cannot be read
        *[(f"run config {k}", [*RUN, "--config", "run.toml"], {"run.toml": v}, m) for k, (v, m) in BAD_TOML.items()],
        ("run config missing", [*RUN, "--config", "run.toml"], {}, "cannot read the config file"),
        ("run config fifo", [*RUN, "--config", "run.toml"], {"run.toml": FIFO}, "not a regular file"),
        ("run --set deep", [*RUN, "--set", "supernet.lr=" + "[" * 100_000 + "]" * 100_000], {}, "--set"),
        ("run --set 5001 digits", [*RUN, "--set", "supernet.seed=" + "9" * 5001], {}, "--set"),
    ]
    for command in (TRAIN, VALIDATE):  # architecture files
        name = command[0] if command is TRAIN else "validate"
        for kind, (content, message) in BAD_TEXT.items():
            yield f"{name} arch {kind}", command, {"arch.json": content}, message
        yield f"{name} arch missing", command, {}, "cannot read arch.json"
        yield f"{name} arch folder", command, {"arch.json/x": b""}, "not a regular file"
        yield f"{name} arch fifo", command, {"arch.json": FIFO}, "not a regular file"


CASES = list(cases())


def make(root: Path, files: dict) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is FIFO:
            os.mkfifo(path)
        else:
            path.write_bytes(content.encode() if isinstance(content, str) else content)


def snapshot(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("args, files, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_mistake_is_one_line_exit_2_and_leaves_nothing(tmp_path, monkeypatch, args, files, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NAS_TRACEBACK", raising=False)
    make(tmp_path, files)
    before = snapshot(tmp_path)
    result = runner.invoke(app, args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (result.output, result.exception)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert snapshot(tmp_path) == before  # nothing written, nothing changed (a run's best/ included)


def test_the_table_covers_the_issue(tmp_path):
    assert len(CASES) >= 80 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("raised, message", [
    (FileExistsError(errno.EEXIST, "File exists", "runs/x"), "cannot use runs/x: File exists"),
    (PermissionError(errno.EACCES, "Permission denied", "/root/x"), "cannot use /root/x: Permission denied"),
    (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
    (UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid continuation byte"),
     "byte e9 at position 0 is not UTF-8"),
    (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
    (OverflowError("cannot convert float infinity to integer"), "a number is too large"),
    (MemoryError(), "out of memory"),
    (InputError("40 images, fewer than one batch of 64", hint="lower {batch_size}"), "lower --batch-size"),
])
def test_the_boundary_turns_each_kind_into_one_line(capsys, monkeypatch, raised, message):
    monkeypatch.delenv("NAS_TRACEBACK", raising=False)
    with pytest.raises(typer.Exit) as e, user_errors():
        raise raised
    err = capsys.readouterr().err
    assert e.value.exit_code == 2 and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("raised", [KeyError("a bug"), TypeError("a bug"), ValueError("a bug"), RuntimeError("a bug"),
                                    ZeroDivisionError("a bug"), AttributeError("a bug")])
def test_a_bug_keeps_its_traceback_with_a_pointer_to_report_it(monkeypatch, raised):
    monkeypatch.delenv("NAS_TRACEBACK", raising=False)
    with pytest.raises(type(raised)) as e, user_errors():
        raise raised
    assert BUG in getattr(e.value, "__notes__", [BUG])  # (Python 3.10 prints it instead)


def test_nas_traceback_keeps_every_traceback(monkeypatch):
    monkeypatch.setenv("NAS_TRACEBACK", "1")
    with pytest.raises(InputError), user_errors():
        raise InputError("a mistake")


def test_a_full_disk_while_recording_the_run_is_one_line(tmp_path, monkeypatch):
    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(_options, "write_run_info", full)
    result = runner.invoke(app, [*SUPERNET, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == f"error: cannot use {tmp_path / 'out' / 'supernet_train.run.json'}: No space " \
                                    "left on device"


def test_a_bug_in_the_real_cli_prints_the_traceback_then_the_pointer(tmp_path):
    """Through a real process: Python's own traceback, exit code 1, the pointer as its last line."""
    code = ("import nas_cli.commands.space as s\n"
            "def broken(name):\n    return {}[name]\n"
            "s.get_space_or_fail = broken\n"
            "from nas_cli.main import app\napp(['space', 'show', 'tiny'])\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("NAS_TRACEBACK", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith("Traceback") and "KeyError: 'tiny'" in done.stderr
    assert done.stderr.strip().splitlines()[-1] == BUG
    assert list(tmp_path.iterdir()) == []
