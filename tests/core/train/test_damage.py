"""Resume that survives damage: torn or bit-flipped checkpoints, bad ``latest`` pointers, torn
metrics lines, unknown format versions, damaged stand-alone weights and score caches.

One interrupted run (checkpoints at steps 4 and 8 of 12) is copied for each case, damaged, and
resumed; where the resume falls back to step 4, its final weights must still equal those of an
uninterrupted run, bit for bit (the loop is deterministic).
"""

import json
import os
import re
import shutil

import pytest
import torch
from safetensors.torch import load_file

from nas_core import Scorer, get_space
from nas_core.data import load_data
from nas_core.train import (
    Callback,
    RunDirError,
    StandaloneConfig,
    SupernetConfig,
    latest_checkpoint,
    load_network,
    load_supernet,
    read_state,
    train_standalone,
    train_supernet,
)
from nas_core.train.checkpoint import CheckpointError, find_checkpoint

STEP4, STEP8 = "step_00000004", "step_00000008"


@pytest.fixture(scope="module")
def data():
    return load_data("synthetic", "train", image_size=12, subset=320)


def config():
    return SupernetConfig(space="tiny", width=4, cells_per_stack=1, steps=12, batch_size=32, ghost_batch=16,
                          lr=0.4, log_every=4, checkpoint_every=4, seed=3)


class Recorder(Callback):
    """Keeps the start info (its notes) and stops the run right after the checkpoint ``stop_at``."""

    def __init__(self, stop_at=None):
        self.info, self.stop_at = None, stop_at

    def on_start(self, info):
        self.info = info

    def on_checkpoint(self, step, folder):
        if step == self.stop_at:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def full(data, tmp_path_factory):
    """The weights of an uninterrupted run."""
    return train_supernet(config(), data, tmp_path_factory.mktemp("full")).state_dict()


@pytest.fixture(scope="module")
def cut(data, tmp_path_factory):
    """A run killed right after its checkpoint at step 8: it holds step_4 and step_8."""
    out = tmp_path_factory.mktemp("cut")
    with pytest.raises(KeyboardInterrupt):
        train_supernet(config(), data, out, callbacks=[Recorder(stop_at=8)])
    return out


@pytest.fixture()
def run(cut, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(cut, out)
    return out


def resume(data, out):
    rec = Recorder()
    model = train_supernet(config(), data, out, resume=True, callbacks=[rec])
    return model, rec.info


def assert_same_weights(full, model):
    for (name, a), b in zip(full.items(), model.state_dict().values()):
        torch.testing.assert_close(a, b, atol=0, rtol=0, msg=name)


def metric_steps(out):
    return [json.loads(ln)["step"] for ln in (out / "metrics.jsonl").read_text().splitlines()]


# -- damage to the newest checkpoint: fall back to step 4 ----------------------------------------------

def truncate(path):
    path.write_bytes(path.read_bytes()[:-100])


def flip_byte(path):
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x01  # in the tensor data: safetensors itself would load it without a word
    path.write_bytes(bytes(data))


def edit_state(**changes):
    def edit(path):
        state = json.loads(path.read_text())
        path.write_text(json.dumps({**state, **changes}))
    return edit


DAMAGE = [  # (file of step_8, what is done to it, what the note says)
    ("model.safetensors", truncate, r"model\.safetensors: \d+ bytes, not the \d+ recorded"),
    ("model.safetensors", flip_byte, "model.safetensors: SHA-256 differs"),
    ("trainer.safetensors", flip_byte, "trainer.safetensors: SHA-256 differs"),
    ("trainer.safetensors", lambda p: p.unlink(), "trainer.safetensors is missing"),
    ("state.json", lambda p: p.unlink(), "state.json is missing"),
    ("state.json", truncate, "state.json cannot be read"),
    ("state.json", lambda p: p.write_text("[1, 2]"), "state.json holds no JSON object"),
    ("state.json", edit_state(step=4), "state.json: step 4, not the folder's"),
    ("state.json", edit_state(files={}), "no size and SHA-256 recorded for model.safetensors"),
    ("state.json", edit_state(format_version=-1), "format_version -1 is not a format version"),
    ("state.json", edit_state(format_version=0), "format_version 0 is not a format version"),
    ("state.json", edit_state(format_version=True), "format_version True is not a format version"),
    ("state.json", edit_state(format_version="1"), "format_version '1' is not a format version"),
    ("state.json", edit_state(format_version=None), "format_version None is not a format version"),
    ("state.json", edit_state(format_version=2), r"format 2 is newer than this nas-core reads \(1\): upgrade"),
]


@pytest.mark.parametrize("name, damage, why", DAMAGE, ids=[f"{n}-{w[:30]}" for n, _, w in DAMAGE])
def test_a_damaged_newest_checkpoint_resumes_from_the_one_before(data, full, run, name, damage, why):
    damage(run / "checkpoints" / STEP8 / name)
    model, info = resume(data, run)
    assert info["start_step"] == 4
    [note] = info["notes"]
    assert note.startswith(f"checkpoint {STEP8} is damaged (") and note.endswith(f"); resuming from {STEP4}")
    assert re.search(why, note), note
    assert_same_weights(full, model)
    assert metric_steps(run) == [4, 8, 12]
    kept = sorted(p.name for p in (run / "checkpoints").glob("step_*"))
    assert kept == [STEP8, "step_00000012"]  # the damaged step_8 was written again
    assert find_checkpoint(run).notes == ()


def test_no_valid_checkpoint_refuses_the_run_in_one_line(data, run):
    flip_byte(run / "checkpoints" / STEP8 / "model.safetensors")
    (run / "checkpoints" / STEP4 / "state.json").write_text("{")
    metrics = (run / "metrics.jsonl").read_bytes()
    with pytest.raises(RunDirError) as e:
        resume(data, run)
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"no valid checkpoint in {run / 'checkpoints'}: ")
    assert f"{STEP8} (model.safetensors: SHA-256 differs); {STEP4} (state.json cannot be read" in message
    assert (run / "metrics.jsonl").read_bytes() == metrics  # nothing trained, nothing rewritten
    with pytest.raises(RunDirError, match="pass resume to continue it"):  # never a silent restart
        train_supernet(config(), data, run)
    with pytest.raises(RunDirError, match="no valid checkpoint"):
        load_supernet(run)


def test_a_checkpoint_without_recorded_hashes_is_accepted(data, full, run):
    state = run / "checkpoints" / STEP8 / "state.json"
    recorded = json.loads(state.read_text())
    del recorded["files"]  # as nas-core wrote it before it recorded them
    state.write_text(json.dumps(recorded))
    model, info = resume(data, run)
    assert info["start_step"] == 8 and info["notes"] == []
    assert_same_weights(full, model)


# -- the latest pointer ------------------------------------------------------------------------------

def pointer(text):
    return lambda latest: latest.write_text(text)


POINTERS = [  # (what is done to checkpoints/latest, what the note says of it)
    (pointer(""), "is empty"),
    (pointer("\n  \n"), "is empty"),
    (pointer("step_00000099\n"), "names step_00000099, which is not a checkpoint folder"),
    (pointer("../..\n"), "holds '../..', not the name of a checkpoint"),
    (pointer("/etc\n"), "holds '/etc', not the name of a checkpoint"),
    (pointer(f"{STEP8}/../{STEP4}"), f"holds '{STEP8}/../{STEP4}', not the name of a checkpoint"),
    (pointer("state.json"), "holds 'state.json', not the name of a checkpoint"),
    (pointer("x" * 100), "holds '" + "x" * 37 + "...', not the name of a checkpoint"),
    (lambda latest: latest.write_bytes(b"\xff\xfe\x00"), "cannot be read (UnicodeDecodeError)"),
    (lambda latest: latest.unlink(), "is missing"),
]


@pytest.mark.parametrize("damage, why", POINTERS, ids=[w for _, w in POINTERS])
def test_a_bad_latest_pointer_resumes_from_the_newest_valid_checkpoint(data, full, run, damage, why):
    damage(run / "checkpoints" / "latest")
    model, info = resume(data, run)
    assert info["start_step"] == 8
    assert info["notes"] == [f"checkpoints/latest {why}; resuming from {STEP8}, the newest valid checkpoint"]
    assert_same_weights(full, model)
    assert (run / "checkpoints" / "latest").read_text() == "step_00000012\n"


def test_a_bad_pointer_and_a_damaged_newest_checkpoint(data, full, run):
    (run / "checkpoints" / "latest").write_text("../../etc")
    weights = run / "checkpoints" / STEP8 / "model.safetensors"
    size = weights.stat().st_size
    truncate(weights)
    model, info = resume(data, run)
    assert info["start_step"] == 4
    assert info["notes"] == [
        f"checkpoints/latest holds '../../etc', not the name of a checkpoint; resuming from {STEP4}, the newest "
        "valid checkpoint",
        f"checkpoint {STEP8} is damaged (model.safetensors: {size - 100} bytes, not the {size} recorded); "
        f"resuming from {STEP4}"]
    assert_same_weights(full, model)


def test_a_pointer_to_an_older_checkpoint_is_followed(run):
    (run / "checkpoints" / "latest").write_text(STEP4)  # killed between the rename and the pointer
    assert latest_checkpoint(run).name == STEP4 and find_checkpoint(run).notes == ()


def test_the_pointer_never_leaves_the_checkpoints_folder(run, tmp_path):
    decoy = run / "checkpoints" / "step_00000099"
    shutil.copytree(run / "checkpoints" / STEP8, tmp_path / "elsewhere")
    decoy.symlink_to(tmp_path / "elsewhere")  # a link is not a checkpoint folder of this run
    (run / "checkpoints" / "latest").write_text(decoy.name)
    found = find_checkpoint(run)
    assert found.folder.name == STEP8
    assert found.notes == (f"checkpoints/latest names step_00000099, which is not a checkpoint folder; resuming from "
                           f"{STEP8}, the newest valid checkpoint",)


# -- load_supernet, read_state -------------------------------------------------------------------------

def test_load_supernet_skips_a_damaged_checkpoint(run):
    flip_byte(run / "checkpoints" / STEP8 / "model.safetensors")
    loaded = load_supernet(run)
    step4 = load_file(run / "checkpoints" / STEP4 / "model.safetensors")
    for name, value in loaded.state_dict().items():
        torch.testing.assert_close(value, step4[name], atol=0, rtol=0, msg=name)


@pytest.mark.parametrize("version", [-1, 0, True, "1", 1.0, None, 2])
def test_read_state_accepts_only_known_format_versions(run, version):
    folder = run / "checkpoints" / STEP8
    edit_state(format_version=version)(folder / "state.json")
    with pytest.raises(CheckpointError, match="format") as e:
        read_state(folder)
    assert "\n" not in str(e.value) and str(folder) in str(e.value)


# -- metrics.jsonl ------------------------------------------------------------------------------------

@pytest.mark.parametrize("torn", [b'{"accuracy": 0.5, "step": 1', b'{"step', b"\xff\xfe", b"[", b'{"step": "x"}'])
def test_a_torn_last_metrics_line_is_dropped(data, full, run, torn):
    with (run / "metrics.jsonl").open("ab") as f:
        f.write(torn)  # killed in the middle of an append
    model, info = resume(data, run)
    assert info["start_step"] == 8
    assert metric_steps(run) == [4, 8, 12]
    assert_same_weights(full, model)


def test_a_damaged_metrics_line_before_the_last_is_an_error(data, run):
    metrics = run / "metrics.jsonl"
    lines = metrics.read_text().splitlines()
    metrics.write_text("\n".join([lines[0][:20], *lines[1:]]) + "\n")
    with pytest.raises(RunDirError, match=rf"^{re.escape(str(metrics))}, line 1: not a metrics record: repair") as e:
        resume(data, run)
    assert "\n" not in str(e.value)


# -- stand-alone networks --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("standalone")
    arch = get_space("tiny").sample(torch.Generator().manual_seed(0))
    config = StandaloneConfig(width=4, cells_per_stack=1, steps=4, batch_size=32, checkpoint_every=4)
    train_standalone(arch, config, data, data, out)
    return out


@pytest.fixture()
def model_dir(trained, tmp_path):
    shutil.copytree(trained, tmp_path / "model")
    return tmp_path / "model"


def test_result_json_records_the_weights(model_dir):
    result = json.loads((model_dir / "result.json").read_text())
    weights = model_dir / "model.safetensors"
    assert result["files"]["model.safetensors"]["bytes"] == weights.stat().st_size
    assert not list(model_dir.glob(".*"))  # no temporary file left behind
    net, _ = load_network(model_dir)
    assert sum(p.numel() for p in net.parameters()) == result["params"]


@pytest.mark.parametrize("damage, why", [(flip_byte, "model.safetensors: SHA-256 differs"),
                                         (truncate, "model.safetensors: "),
                                         (lambda p: p.unlink(), "model.safetensors is missing")])
def test_damaged_standalone_weights_are_refused(model_dir, damage, why):
    damage(model_dir / "model.safetensors")
    with pytest.raises(RunDirError, match=rf"^{re.escape(str(model_dir))} holds damaged weights \({why}") as e:
        load_network(model_dir)
    assert "\n" not in str(e.value)


def _fifo(path):
    path.unlink()
    os.mkfifo(path)  # reading it would wait forever


@pytest.mark.parametrize("damage, why", [
    (lambda p: p.write_text("{"), "cannot be read: Expecting property name"),
    (lambda p: p.write_text("[]"), "holds no JSON object"),
    (lambda p: p.write_text(""), "cannot be read: Expecting value"),
    (lambda p: p.write_text("9" * 5001), "cannot be read: Exceeds the limit"),
    (lambda p: p.write_text("[" * 100_000), "cannot be read: maximum recursion depth"),
    (lambda p: p.write_bytes(b"\xff{}"), "cannot be read: 'utf-8' codec"),
    (_fifo, "is not a regular file"),
])
def test_an_unreadable_result_json_is_one_line(model_dir, damage, why):
    damage(model_dir / "result.json")
    with pytest.raises(RunDirError, match=re.escape(f"{model_dir / 'result.json'} {why}")) as e:
        load_network(model_dir)
    assert "\n" not in str(e.value)


def test_a_result_json_without_recorded_hashes_is_accepted(model_dir):
    result = json.loads((model_dir / "result.json").read_text())
    del result["files"]  # written by an older nas-core
    (model_dir / "result.json").write_text(json.dumps(result))
    load_network(model_dir)


# -- the score cache ------------------------------------------------------------------------------------

def test_the_score_cache_trusts_only_its_own_model(cut, data, tmp_path):
    model = load_supernet(cut)
    val = load_data("synthetic", "val", image_size=12, subset=60)
    archs = [get_space("tiny").sample(torch.Generator().manual_seed(i)) for i in range(2)]
    cache = tmp_path / "scores.jsonl"
    first = Scorer(model, val, batch_size=60, cache_file=cache, model_id="aaa")
    first(archs[0])
    with cache.open("a") as f:
        f.write('{"arch_id": "x", "accuracy": 0.5}\n[1]\n\xff garbage\n{"arch_id": "torn", "acc\n')
    same = Scorer(model, val, batch_size=60, cache_file=cache, model_id="aaa")
    assert same(archs[0]) == first(archs[0]) and same.computed == 0
    other = Scorer(model, val, batch_size=60, cache_file=cache, model_id="bbb")
    other(archs[0])
    assert other.computed == 1  # a score of another one-shot model is not trusted
    unknown = Scorer(model, val, batch_size=60, cache_file=cache)
    unknown(archs[0])
    assert unknown.computed == 1
    lines = [json.loads(ln) for ln in cache.read_text().splitlines() if ln.startswith('{"accuracy"')]
    assert [ln["model"] for ln in lines] == ["aaa", "bbb", None]
