"""Hostile option values for every command (issue 14, parts 1 and 4): numbers below, at and far
beyond their bounds, nan and inf, seeds beyond 64 bits, devices this machine lacks, output paths
the system refuses, unknown names, mistyped data folders, storage URLs that go nowhere, and
mistakes click finds while parsing (a usage error is one line too). Each row is refused with
exit 2 and one line, and leaves no file behind (``conftest.refused``)."""

from __future__ import annotations

import os

import pytest
import torch

from nas_core import get_space

SUPERNET = ["supernet", "train", "--out", "out", "--space", "tiny", "--ghost-batch", "16", "--steps", "2"]
TINY = ["--dataset", "synthetic", "--image-size", "12", "--subset", "320", "--width", "4", "--cells-per-stack", "1",
        "--batch-size", "32", "--device", "cpu"]
TRAIN = ["train", "--arch", "arch.json", "--out", "out", "--steps", "2"]
RUN = ["run", "--profile", "smoke", "--device", "cpu", "--out", "out"]
CORRELATE = ["correlate", "--supernet", "sn", "--out", "out", "--device", "cpu", "--profile", "smoke"]
ABLATE = ["ablate", "dropout", "--out", "out", "--device", "cpu", "--profile", "smoke"]
BIG = str(2**70)
NOT_NUMBERS = ("abc", "", "1e3x", "0x10", "--")


def arch_file() -> dict:
    return {"arch.json": get_space("tiny").sample(torch.Generator().manual_seed(1)).to_json()}


def rows(command: list[str], option: str, values, message: str = "", files=None, base=TINY, tag: str = ""):
    """One case per value of ``option`` given after ``command`` and ``base`` (the later wins)."""
    name = " ".join(a for a in command[:2] if not a.startswith("-")) + tag
    for value in values:
        yield pytest.param([*command, *base, option, value], files or {}, message, id=f"{name} {option}={value[:24]!r}")


def supernet_cases():
    s = SUPERNET
    yield from rows(s, "--subset", ["0", "-1", *NOT_NUMBERS])
    yield from rows(s, "--val-fraction", ["-0.1", "0.95", "nan", "inf", "-inf", *NOT_NUMBERS])
    yield from rows(s, "--image-size", ["0", "7", "513", "100000", "-1", BIG, *NOT_NUMBERS])
    yield from rows(s, "--space", ["nope", "", "TINY", "tiny\x1b[31m"], "unknown search space")
    yield from rows(s[:-2], "--epochs", ["0", "-1", "nan", "inf", "-inf", "1e300", "1e309", *NOT_NUMBERS])
    yield from rows(s, "--steps", ["0", "-1", str(10**12), BIG, "1.5", *NOT_NUMBERS])
    yield from rows(s, "--batch-size", ["0", "-1", BIG, "1024", "24", *NOT_NUMBERS])
    yield from rows(s, "--ghost-batch", ["0", "-1", BIG, "7", "64", *NOT_NUMBERS])
    yield from rows(s, "--dropout-rate", ["-0.1", "1", "nan", "inf", *NOT_NUMBERS])
    yield from rows(s, "--dropout-ramp", ["0", "-0.1", "1.5", "nan", "inf", *NOT_NUMBERS])
    yield from rows(s, "--ema-decay", ["-0.1", "1", "nan", "inf", *NOT_NUMBERS])
    yield from rows(s, "--lr", ["-1", "nan", "inf", "-inf", "1e309", *NOT_NUMBERS])
    yield from rows(s, "--weight-decay", ["-1", "nan", "inf", *NOT_NUMBERS])
    yield from rows(s, "--width", ["0", "1", "1025", "1000000", BIG, "-4", *NOT_NUMBERS])
    yield from rows(s, "--cells-per-stack", ["0", "65", "1000", BIG, *NOT_NUMBERS])
    yield from rows(s, "--seed", ["-1", str(2**63), str(2**64), BIG, "1e3", *NOT_NUMBERS])
    yield from rows(s, "--device", ["tpu", "", "meta", "cuda:99", "cuda:-1", "cuda:x", "CPU", "mps", "gpu\x1b]0;x\x07"])
    yield from rows(s, "--checkpoint-every", ["0", "-1", *NOT_NUMBERS])
    yield from rows(s, "--out", ["file", "/dev/null/x", "/proc/nas-out", "/sys/nas-out", "file/below"],
                    files={"file": b"x"})
    yield from rows(s, "--dataset", ["nope", "", "folder"])
    yield from rows(s, "--data-dir", ["mistyped", "file", "/proc/nas-data", "empty", "one-class"],
                    files={"file": b"x", "empty/.keep": b"", "one-class/cat/a.png": b""},
                    base=[*TINY[2:], "--dataset", "folder"], tag=" folder")
    yield from rows(s, "--data-dir", ["mistyped", "file"], files={"file": b"x"},
                    base=[*TINY[2:], "--dataset", "cifar10"], tag=" cifar10")
    yield from rows(s, "--data-dir", ["mistyped"], base=[*TINY[2:], "--dataset", "fashion-mnist"], tag=" f-mnist")


def train_cases():
    t, files = TRAIN, arch_file()
    yield from rows(t, "--arch", ["missing.json", "folder", "/dev/null/x", ""], files={"folder/x": b""})
    for option, values in {
        "--cutout": ["-1", BIG, *NOT_NUMBERS], "--drop-path": ["-0.1", "0.95", "nan", "inf"],
        "--label-smoothing": ["-0.1", "0.6", "nan"], "--width": ["1", "1025", BIG], "--lr": ["nan", "-1", "inf"],
        "--seed": ["-1", BIG], "--device": ["tpu", "", "meta", "cuda:99"], "--image-size": ["7", "100000"],
        "--batch-size": ["0", "1024"], "--steps": ["0", str(10**12)], "--val-fraction": ["nan", "1"],
        "--out": ["arch.json", "/dev/null/x", "/proc/nas-out"], "--dataset": ["nope", "folder"],
        "--subset": ["0"], "--cells-per-stack": ["65"], "--weight-decay": ["inf"], "--checkpoint-every": ["0"],
    }.items():
        yield from rows(t, option, values, files=files)
    yield from rows(t[:-2], "--epochs", ["0", "nan", "inf", "1e300"], files=files)


def run_cases():
    r = RUN
    for option, values in {
        "--profile": ["nope", "Smoke"], "--dataset": ["nope", ""], "--sampler": ["nope", ""],
        "--trials": ["0", "-1", str(10**12), BIG, *NOT_NUMBERS[:2]], "--top": ["0", "-1", str(10**9)],
        "--cost": ["nope", ""], "--pick": ["nope", "smallest-within:abc", "smallest-within:-5", "max-latency-ms:nan",
                                           "max-latency-ms:-1", "max-latency-ms:", "accuracy:1"],
        "--subset": ["0", "-1"], "--image-size": ["7", "513", "100000", BIG], "--space": ["nope", ""],
        "--supernet-epochs": ["0", "-1", "nan", "inf", "1e300"], "--standalone-epochs": ["0", "nan", "1e300"],
        "--width": ["1", "1025", "1000000", BIG], "--batch-size": ["0", BIG], "--dropout-rate": ["-1", "1.5", "nan"],
        "--ghost-batch": ["0", "7", BIG], "--workers": ["0", "-1", "1000000", BIG],
        "--storage": ["nope", "bogus://x", "sqlite:////proc/nas/s.db", "sqlite:////dev/null/s.db",
                      "postgresql://u:p@127.0.0.1:1/db", "mysql://u@127.0.0.1:1/db"],
        "--seed": ["-1", str(2**63), BIG, "abc"], "--device": ["tpu", "", "meta", "cuda:99", "cuda:-1"],
        "--out": ["file", "/dev/null/x", "/proc/nas-out", "notes"],
        "--config": ["missing.toml", "folder", "/dev/null/x"],
        "--set": ["nokey", "=", "supernet.nokey=1", "nokey.width=1", "supernet.width=abc", "supernet.width=[1]",
                  "supernet.width=1", "supernet.lr=nan", "supernet.epochs=inf", "supernet.seed=-1",
                  f"supernet.seed={BIG}", "search.trials=0", "top_k=0", "data.image_size=7", "space='nope'",
                  "supernet.width=\"4\"", "supernet=1", "profile=1"],
    }.items():
        yield from rows(r, option, values, files={"file": b"x", "notes/thesis.tex": b"keep", "folder/x": b""},
                        base=[])
    yield pytest.param(["run", "--profile", "", "--show-config"], {}, "profile", id="run --profile=''")
    cifar = ["--dataset", "cifar10"]  # (a data set read from files: synthetic reads no --data-dir)
    yield from rows(r, "--data-dir", ["mistyped", "file"], files={"file": b"x"}, base=cifar)
    yield from rows(["run", "--profile", "smoke", "--device", "cpu"], "--data-dir", ["mistyped"], base=cifar,
                    message="mistyped", tag=" default out")  # the default out: no runs/, no runs/latest


def correlate_cases():
    sn = {"sn/x": b""}
    for command in (CORRELATE, ABLATE):
        for option, values in {
            "--archs": ["0", "2", str(10**9), BIG], "--pool": ["2", str(10**9), BIG], "--seeds": ["0", "1000", BIG],
            "--epochs": ["0", "-1", "nan", "inf", "1e300"], "--profile": ["nope"], "--dataset": ["nope", ""],
            "--kl-examples": ["0", str(10**12), BIG], "--bootstrap": ["9", str(10**7), BIG, "abc"],
            "--seed": ["-1", BIG], "--device": ["tpu", "", "meta", "cuda:99"], "--out": ["file", "/dev/null/x"],
        }.items():
            yield from rows(command, option, values, files={**sn, "file": b"x"}, base=[])
        yield from rows(command, "--data-dir", ["mistyped"], files=sn, base=["--dataset", "cifar10"])
        yield from rows(command, "--score-images", ["0", "-1", str(10**12), BIG, "abc"], files=sn, base=[])
        yield from rows(command, "--score-mode", ["nope", "", "BATCH-STATS"], files=sn, base=[])
    yield from rows(CORRELATE, "--supernet", ["nope", "file", ""], files={"file": b"x"}, base=[])
    yield from rows(ABLATE, "--rates", ["abc", "", "0.1,,0.2", "-0.5", "1.5", "nan", "inf", "0.1;0.2"], base=[])
    yield from rows(ABLATE, "--model-seeds", ["-1", "abc", "", BIG, "0,1.5"], base=[])


def other_cases():
    yield from rows(["space", "show"], "--", ["nope", "", "tiny\x1b[2J"], "unknown search space", base=[])
    yield from rows(["space", "sample", "tiny"], "--seed", ["-1", str(2**63), BIG, "abc", ""], base=[])
    yield from rows(["space", "sample", "tiny"], "--count", ["0", "-1", str(10**12), BIG], base=[])
    yield from rows(["space", "sample"], "--", ["nope", ""], "unknown search space", base=[])
    yield from rows(["dashboard", "."], "--port", ["0", "-1", "70000", BIG, "abc"], base=[])
    yield from rows(["search"], "--run", ["nope", "file", "empty", ""], files={"file": b"x", "empty/.keep": b""},
                    base=[])
    for option, values in {"--workers": ["0", "-1"], "--heartbeat": ["0", "-1"], "--device": ["tpu"],
                           "--storage": ["nope", "bogus://x"]}.items():
        yield from rows(["search", "--run", "nope"], option, values, base=[])
    # mistakes click finds while parsing: one line too
    for args in (["nosuchcommand"], ["--bogus"], ["supernet", "train"], ["supernet", "train", "--out"],
                 ["supernet", "nope"], ["space", "sample"], ["space", "validate"], ["train", "--out", "x"],
                 ["run", "--bogus", "1"], ["run", "--overwrite=1"], ["export", "x"], ["predict"],
                 ["export", "x", "--out", "y.onnx", "--quantize", "int4"], ["ablate", "dropout"],
                 ["correlate", "--out", "o"], ["space", "show", "tiny", "extra"]):
        yield pytest.param(args, {}, "", id=f"usage {' '.join(args)}")


CASES = [*supernet_cases(), *train_cases(), *run_cases(), *correlate_cases(), *other_cases()]


@pytest.mark.parametrize("args, files, message", CASES)
def test_a_hostile_option_value_is_refused(refused, args, files, message):
    refused(args, files, message)


def test_a_refused_run_with_its_own_storage_leaves_no_database(refused):
    """The storage is checked before the run folder is: a refused run must not leave its study."""
    refused([*RUN, "--storage", "sqlite:///study.db", "--out", "file"], {"file": b"x"}, "is a file")
    assert not os.path.exists("study.db")


def test_the_table_is_large_and_each_case_named_once():
    ids = [c.id for c in CASES]
    assert len(ids) >= 250 and len(set(ids)) == len(ids), [i for i in ids if ids.count(i) > 1]
