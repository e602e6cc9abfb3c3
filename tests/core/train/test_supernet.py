"""The one-shot trainer on synthetic data: learning, checkpoints, exact resume, NaN stop."""

import json

import pytest
import torch

from nas_core.data import load_data
from nas_core.train import (
    Callback,
    RunDirError,
    SupernetConfig,
    TrainingDiverged,
    latest_checkpoint,
    load_supernet,
    lr_at,
    ramp,
    train_supernet,
)


@pytest.fixture(scope="module")
def data():
    return load_data("synthetic", "train", image_size=12, subset=640)


def config(**changes):
    base = dict(space="tiny", width=4, cells_per_stack=1, steps=12, batch_size=32, ghost_batch=16,
                lr=0.4, log_every=4, checkpoint_every=6, seed=3)
    return SupernetConfig(**{**base, **changes})


class Recorder(Callback):
    def __init__(self, stop_at=None):
        self.progress, self.stop_at = [], stop_at

    def on_progress(self, p):
        self.progress.append(p)

    def on_checkpoint(self, step, folder):
        if step == self.stop_at:
            raise KeyboardInterrupt  # an interruption right after a checkpoint


def test_loss_falls(data, tmp_path):
    rec = Recorder()
    train_supernet(config(steps=40, log_every=10, checkpoint_every=40, dropout_rate=0.0), data,
                   tmp_path, callbacks=[rec])
    losses = [p.loss for p in rec.progress]
    assert losses[-1] < 0.7 * losses[0], losses
    assert rec.progress[-1].step == 40 and rec.progress[-1].images_per_s > 0


def test_progress_reports_and_metrics_file(data, tmp_path):
    rec = Recorder()
    train_supernet(config(), data, tmp_path, callbacks=[rec])
    assert [p.step for p in rec.progress] == [4, 6, 8, 12]
    assert rec.progress[-1].extra["dropout"] == pytest.approx(0.1)  # end of the ramp: r
    lines = [json.loads(ln) for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [ln["step"] for ln in lines] == [4, 6, 8, 12]
    folder = latest_checkpoint(tmp_path)
    assert folder.name == "step_00000012"
    state = json.loads((folder / "state.json").read_text())
    assert state["complete"] and state["kind"] == "supernet" and state["space"]["name"] == "tiny"


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(data, tmp_path):
    full = train_supernet(config(), data, tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        train_supernet(config(), data, tmp_path / "cut", callbacks=[Recorder(stop_at=6)])
    assert latest_checkpoint(tmp_path / "cut").name == "step_00000006"
    resumed = train_supernet(config(), data, tmp_path / "cut", resume=True)
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, atol=0, rtol=0, msg=name)
    steps = [json.loads(ln)["step"] for ln in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [4, 6, 8, 12]  # no duplicated or lost lines


def test_existing_run_needs_resume_and_the_same_data(data, tmp_path):
    train_supernet(config(steps=6), data, tmp_path)
    with pytest.raises(RunDirError, match="pass resume to continue it, or choose another out_dir") as e:
        train_supernet(config(steps=6), data, tmp_path)
    assert "--" not in str(e.value)  # a library message names arguments, not CLI flags
    other = load_data("synthetic", "train", image_size=12, subset=320)
    with pytest.raises(RunDirError, match=r"made with other settings \(data\.size 640, not 320\)"):
        train_supernet(config(steps=6), other, tmp_path, resume=True)
    with pytest.raises(RunDirError, match=r"network\.width 4, not 6"):  # not a state_dict traceback
        train_supernet(config(steps=6, width=6), data, tmp_path, resume=True)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(data, tmp_path, monkeypatch):
    from nas_core import OneShotModel

    real_forward = OneShotModel.forward
    calls = {"n": 0}

    def poisoned(self, x, *args, **kwargs):
        calls["n"] += 1
        out = real_forward(self, x, *args, **kwargs)
        return out * float("nan") if calls["n"] > 7 else out

    monkeypatch.setattr(OneShotModel, "forward", poisoned)
    with pytest.raises(TrainingDiverged, match="last good checkpoint \\(step 6\\)"):
        train_supernet(config(), data, tmp_path)
    assert latest_checkpoint(tmp_path).name == "step_00000006"
    model = load_supernet(tmp_path)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_schedules():
    assert ramp(0, 10) == 0 and ramp(9, 10) == 1
    assert [ramp(s, 11, 0.5) for s in (0, 1, 5, 6, 10)] == [0, 0.2, 1, 1, 1]  # half ramp, half plateau
    lrs = [lr_at(s, 100, 1.0, 0.1) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] < 0.01


def test_a_shorter_ramp_reaches_r_early_and_stays_there(data, tmp_path):
    rec = Recorder()
    train_supernet(config(dropout_ramp=0.5), data, tmp_path, callbacks=[rec])
    rates = {p.step: p.extra["dropout"] for p in rec.progress}  # the rate of each reported step's last step
    assert rates[8] == rates[12] == pytest.approx(0.1) and rates[4] == pytest.approx(0.1 * 3 / 5.5)


def test_the_moving_average_lags_the_weights_and_resumes_exactly(data, tmp_path):
    full = train_supernet(config(ema_decay=0.9), data, tmp_path / "full")
    raw, ema = load_supernet(tmp_path / "full"), load_supernet(tmp_path / "full", ema=True)
    torch.testing.assert_close(raw.state_dict(), full.state_dict(), atol=0, rtol=0)
    moved = [k for k, v in ema.state_dict().items() if not torch.equal(v, raw.state_dict()[k])]
    assert moved  # the average trails the weights it averages
    with pytest.raises(KeyboardInterrupt):
        train_supernet(config(ema_decay=0.9), data, tmp_path / "cut", callbacks=[Recorder(stop_at=6)])
    train_supernet(config(ema_decay=0.9), data, tmp_path / "cut", resume=True)
    torch.testing.assert_close(load_supernet(tmp_path / "cut", ema=True).state_dict(), ema.state_dict(),
                               atol=0, rtol=0)
    train_supernet(config(), data, tmp_path / "plain")
    with pytest.raises(RunDirError, match="trained without a moving average"):
        load_supernet(tmp_path / "plain", ema=True)


def test_config_checks():
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="dropout_ramp"):
            config(dropout_ramp=bad)
    with pytest.raises(ValueError, match="ema_decay"):
        config(ema_decay=1.0)
    with pytest.raises(ValueError, match="multiple of ghost_batch"):
        config(batch_size=40)
    with pytest.raises(ValueError, match="dropout_rate"):
        config(dropout_rate=1.0)
