"""A sample of the suite through the real executable (``.venv/bin/nas``, a process of its own):
what the in-process cases find (exit 2, one line on stderr, no traceback, no file) holds for the
command users run, from the parser's errors to a FIFO given as an image."""

from __future__ import annotations

import os

import pytest

TINY = ["--dataset", "synthetic", "--image-size", "12", "--subset", "320", "--width", "4", "--cells-per-stack", "1",
        "--batch-size", "32", "--device", "cpu"]
SUPERNET = ["supernet", "train", "--out", "out", "--space", "tiny", "--ghost-batch", "16", *TINY]


@pytest.mark.parametrize("args, files, message", [
    ([*SUPERNET, "--steps", "0"], {}, "--steps"),  # click's range check: one line, not a panel
    (["run", "--profile", "smoke", "--device", "tpu", "--out", "out"], {}, "unknown device 'tpu'"),
    (["space", "validate", "arch.json"], {"arch.json": b'{"space": "caf\xe9"}'}, "not UTF-8"),
], ids=["below min", "device tpu", "latin-1 arch"])
def test_the_real_executable_refuses_as_in_process(refused_by_nas, args, files, message):
    refused_by_nas(args, files, message)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_the_real_executable_refuses_a_fifo_image_with_escapes_in_its_name(refused_by_nas, onnx_file):
    line = refused_by_nas(["predict", onnx_file, "x\x1b[2J.png"], {"x\x1b[2J.png": os.mkfifo}, "a FIFO")
    assert "x\\x1b[2J.png" in line
