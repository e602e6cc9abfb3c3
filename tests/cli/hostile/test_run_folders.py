"""Damaged or foreign run folders (issue 14, parts 2 and 3): checkpoints that are all damaged,
``state.json`` and ``metrics.jsonl`` that cannot be read, ``pipeline.json`` files a run cannot
continue, one-shot models a study cannot use, folders another command holds. Each is refused with
exit 2 and one line, and nothing in the folder (or anywhere else) changes (``conftest.refused``).

Not repeated here (tests/cli/pipeline/test_damage.py): a resume with another width, cells per
stack, data or architecture; a damaged newest checkpoint that resumes from the one before; a
pipeline.json cut short or of the wrong shape read by the pipeline.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from filelock import FileLock

from nas_cli.pipeline import run_config

TINY = ["--dataset", "synthetic", "--image-size", "12", "--subset", "320", "--width", "4", "--cells-per-stack", "1",
        "--batch-size", "32", "--device", "cpu"]
STEPS = ("step_00000002", "step_00000004")


def supernet_args(out) -> list[str]:
    return ["supernet", "train", "--out", str(out), "--space", "tiny", "--ghost-batch", "16", "--steps", "4",
            "--checkpoint-every", "2", *TINY]


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


def in_every_checkpoint(name: str, damage):
    def apply(out: Path) -> None:
        for step in STEPS:
            damage(out / "checkpoints" / step / name)
    return apply


def replace_with(content: bytes | None):
    def damage(path: Path) -> None:
        path.unlink()
        if content is not None:
            path.write_bytes(content)
    return damage


def fifo(path: Path) -> None:
    path.unlink(missing_ok=True)
    os.mkfifo(path)


STATE_5001_DIGITS = b'{"format_version": 1, "step": ' + b"9" * 5001 + b"}"
DAMAGE = {
    "weights bit-flipped": in_every_checkpoint("model.safetensors", flip),
    "weights missing": in_every_checkpoint("model.safetensors", replace_with(None)),
    "weights empty": in_every_checkpoint("model.safetensors", replace_with(b"")),
    "trainer state truncated": in_every_checkpoint("trainer.safetensors", lambda p: p.write_bytes(p.read_bytes()[:99])),
    "state.json missing": in_every_checkpoint("state.json", replace_with(None)),
    "state.json empty": in_every_checkpoint("state.json", replace_with(b"")),
    "state.json latin-1": in_every_checkpoint("state.json", replace_with(b'{"step": "\xe9"}')),
    "state.json a list": in_every_checkpoint("state.json", replace_with(b"[]")),
    "state.json 5001 digits": in_every_checkpoint("state.json", replace_with(STATE_5001_DIGITS)),
    "state.json deep": in_every_checkpoint("state.json", replace_with(b"[" * 100_000 + b"]" * 100_000)),
    "state.json version true": in_every_checkpoint("state.json", replace_with(b'{"format_version": true, "step": 2}')),
    "state.json a folder": in_every_checkpoint("state.json", lambda p: (p.unlink(), p.mkdir())),
    "state.json a fifo": in_every_checkpoint("state.json", fifo),
    "latest a fifo and every checkpoint damaged": lambda out: (fifo(out / "checkpoints" / "latest"), [
        flip(out / "checkpoints" / step / "model.safetensors") for step in STEPS]),
    "metrics line garbled": lambda out: (out / "metrics.jsonl").write_bytes(b"garbage\n" + (
        out / "metrics.jsonl").read_bytes()),
    "metrics a folder": lambda out: ((out / "metrics.jsonl").unlink(), (out / "metrics.jsonl").mkdir()),
}


@pytest.fixture
def damaged(supernet, tmp_path):
    """``damaged(kind)``: a copy of the session's one-shot model, in the working folder, damaged."""
    def make(kind: str) -> Path:
        out = tmp_path / "sn"
        shutil.copytree(supernet, out)
        DAMAGE[kind](out)
        return out
    return make


@pytest.mark.parametrize("kind", DAMAGE)
def test_resume_from_a_damaged_one_shot_model_is_refused(refused, damaged, kind):
    refused([*supernet_args(damaged(kind)), "--resume"])


@pytest.mark.parametrize("kind", [k for k in DAMAGE if not k.startswith("metrics")])
def test_correlate_with_a_damaged_one_shot_model_is_refused(refused, damaged, kind):
    refused(["correlate", "--supernet", damaged(kind), "--out", "study", "--profile", "smoke", "--dataset",
             "synthetic", "--device", "cpu"])


@pytest.mark.parametrize("args, message", [
    (["--resume", "--space", "bender2018"], "other settings"),
    ([], "already holds a checkpoint"),  # without --resume: never trained over
    (["--resume", "--dataset", "cifar10", "--data-dir", "nowhere"], "nowhere"),
])
def test_a_one_shot_model_folder_that_does_not_fit_is_refused(refused, supernet, args, message):
    refused([*supernet_args(supernet), *args], message=message, watch=[supernet])


@pytest.mark.parametrize("args, message", [
    (["--supernet", "{supernet}", "--dataset", "fashion-mnist", "--data-dir", "nowhere"], "nowhere"),
    (["--supernet", "{supernet}", "--supernet", "nowhere"], "no such folder"),
    (["--supernet", "{model_dir}"], ""),  # a stand-alone network, not a one-shot model
    (["--supernet", "."], ""),  # a folder of other files
])
def test_correlate_with_a_folder_that_is_no_one_shot_model_is_refused(refused, supernet, model_dir, args, message):
    args = [a.format(supernet=supernet, model_dir=model_dir) for a in args]
    refused(["correlate", "--out", "study", "--profile", "smoke", "--dataset", "synthetic", "--device", "cpu", *args],
            {"notes.txt": "keep"}, message, watch=[supernet, model_dir])


# -- run folders of `nas run` and `nas search` -------------------------------------------------------

STATE = json.dumps({"config": run_config("smoke", seed=1, device="cpu").to_dict(), "phases": {}})
PIPELINE = {
    "latin-1": b'{"config": "\xe9"}',
    "5001 digits": b'{"config": {}, "phases": {"supernet": ' + b"9" * 5001 + b"}}",
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "empty": b"",
    "null": b"null",
    "config of wrong types": json.dumps({"config": {"search": {"trials": "many"}, "top_k": []}, "phases": {}}),
    "config unknown keys": json.dumps({"config": {"search": {"trials": 2, "x": 1}, "top_k": 1, "y": 2},
                                       "phases": {}}),
    "phases of wrong types": json.dumps({"config": json.loads(STATE)["config"], "phases": {"supernet": []}}),
    "a folder": lambda path: path.mkdir(),
    "a fifo": os.mkfifo,
    "a dangling link": lambda path: path.symlink_to("nowhere.json"),
}


def pipeline_cases():
    for command, name in ((["run", "--profile", "smoke", "--device", "cpu", "--out", "run"], "run"),
                          (["search", "--run", "run"], "search")):
        for kind in PIPELINE:
            yield pytest.param(command, kind, id=f"{name} {kind}")


@pytest.mark.parametrize("command, kind", list(pipeline_cases()))
def test_a_damaged_pipeline_json_is_refused(refused, command, kind):
    refused(command, {"run/pipeline.json": PIPELINE[kind], "run/best/model.onnx": b"keep"})


@pytest.mark.parametrize("files, args, message", [
    ({"run/pipeline.json": STATE}, [], ""),  # no search folder, no trained one-shot model
    ({"run/pipeline.json": STATE}, ["--storage", "bogus://x"], "bogus"),
    ({"run/pipeline.json": STATE}, ["--storage", "sqlite:////proc/nas/study.db"], "study.db"),
    ({"run/pipeline.json": STATE}, ["--device", "tpu"], ""),
    ({"run/pipeline.json": STATE, "run/search/study.db": b"not a database"}, [], ""),
])
def test_search_on_a_run_it_cannot_join_is_refused(refused, files, args, message):
    refused(["search", "--run", "run", *args], files, message)


# -- one command per folder -----------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    ["run", "--profile", "smoke", "--device", "cpu"],
    ["supernet", "train", "--space", "tiny", "--ghost-batch", "16", "--steps", "2", *TINY],
    ["train", "--arch", "{arch}", "--steps", "2", *TINY],
    ["correlate", "--supernet", "{supernet}", "--profile", "smoke", "--dataset", "synthetic", "--device", "cpu"],
    ["ablate", "dropout", "--profile", "smoke", "--device", "cpu"],
], ids=["run", "supernet", "train", "correlate", "ablate"])
def test_a_folder_another_command_holds_is_refused(refused, supernet, model_dir, tmp_path, command):
    held = tmp_path / "held"
    held.mkdir()
    (held / ".lock.json").write_text(json.dumps({"pid": 1, "host": "elsewhere", "command": "nas run"}))
    args = [a.format(arch=model_dir.parent / "arch.json", supernet=supernet) for a in command]
    lock = FileLock(held / ".lock")
    with lock.acquire(timeout=0):
        refused([*args, "--out", held], message="is in use by nas run (pid 1 on elsewhere)")
