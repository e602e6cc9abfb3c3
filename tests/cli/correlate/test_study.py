"""`nas_cli.correlate`: a whole correlation study on synthetic data and the tiny space (seconds)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nas_cli.correlate import CorrelateConfig, CorrelateUI, OneShotModelSpec, _study, run_correlation
from nas_cli.correlate._analysis import noise_share, tau_ceiling
from nas_core.data import DataSpec
from nas_core.stats import kendall_tau
from nas_core.train import RunDirError, StandaloneConfig, SupernetConfig, train_supernet

DATA = DataSpec("synthetic", subsets={"train": 128, "val": 64}, image_size=12)
STANDALONE = StandaloneConfig(width=4, cells_per_stack=1, steps=2, batch_size=32, log_every=1,
                              checkpoint_every=2, device="cpu")
CONFIG = CorrelateConfig(archs=5, pool=8, bootstrap=50, kl_examples=16, device="cpu")


def _supernet(folder, seed, ema_decay=0.0):
    config = SupernetConfig(space="tiny", width=4, cells_per_stack=1, steps=4, batch_size=32, ghost_batch=16,
                            log_every=2, checkpoint_every=4, device="cpu", seed=seed, ema_decay=ema_decay)
    train_supernet(config, DATA.load("train"), folder)
    return OneShotModelSpec(str(folder), f"seed {seed}", {"seed": seed})


@pytest.fixture(scope="module")
def supernets(tmp_path_factory):
    root = tmp_path_factory.mktemp("supernets")
    return [_supernet(root / "s0", 0), _supernet(root / "s1", 1)]


class CountingUI(CorrelateUI):
    def __init__(self):
        self.trained, self.notes = [], []

    def note(self, message):
        self.notes.append(message)

    def training(self, done, total, title):
        if title:
            self.trained.append(title)
        return []


@pytest.fixture(scope="module")
def study(supernets, tmp_path_factory):
    out = tmp_path_factory.mktemp("corr")
    ui = CountingUI()
    report = run_correlation(out, supernets, DATA, STANDALONE, CONFIG, ui=ui)
    return out, report, ui


def test_writes_correlation_json_and_plots(study):
    out, report, _ = study
    saved = json.loads((out / "correlation.json").read_text())
    assert saved["models"] == report["models"]
    assert [m["label"] for m in saved["models"]] == ["seed 0", "seed 1"]
    for model in saved["models"]:
        for key in ("kendall_tau", "spearman_rho", "top_k_precision"):
            est = model["one_shot_vs_standalone"][key]
            assert est["low"] <= est["value"] <= est["high"] or est["value"] != est["value"]  # nan: constant
        assert model["one_shot_spread"]["pool"]["n"] == CONFIG.pool
        assert 0 <= model["top1"]["percentile"] <= 100
    assert len(saved["archs"]) == CONFIG.archs
    assert all(len(a["one_shot_accuracy"]) == 2 and len(a["kl_to_full_model"]) == 2 for a in saved["archs"])
    assert all(k >= 0 for a in saved["archs"] for k in a["kl_to_full_model"])
    for name in ("correlation", "kl"):
        assert (out / "plots" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert b"<svg" in (out / "plots" / f"{name}.svg").read_bytes()[:2000]


def test_trains_the_sample_and_each_models_pick(study):
    out, report, ui = study
    picks = {m["top1"]["arch_id"] for m in report["models"]}
    sample = {a["arch_id"] for a in report["archs"]}
    assert len(ui.trained) == len(sample | picks)
    results = list((out / "standalone").glob("*/result.json"))
    assert {p.parent.name.rsplit("-s", 1)[0] for p in results} == sample | picks


def test_rerun_trains_nothing_and_gives_the_same_figures(study, supernets):
    out, report, _ = study
    ui = CountingUI()
    again = run_correlation(out, supernets, DATA, STANDALONE, CONFIG, ui=ui)
    assert ui.trained == []
    assert again["models"] == report["models"]


def test_resume_after_interruption_trains_only_what_is_missing(study, supernets, tmp_path):
    out, report, _ = study
    interrupted = tmp_path / "corr"
    (interrupted / "standalone").mkdir(parents=True)
    finished = sorted((out / "standalone").glob("*-s0"))[:2]
    for folder in finished:  # as if the run had died after two trainings
        (interrupted / "standalone" / folder.name).mkdir()
        (interrupted / "standalone" / folder.name / "result.json").write_bytes((folder / "result.json").read_bytes())
    ui = CountingUI()
    run_correlation(interrupted, supernets, DATA, STANDALONE, CONFIG, ui=ui)
    total = len(list((out / "standalone").glob("*/result.json")))
    assert len(ui.trained) == total - 2
    assert not {t.split()[0] for t in ui.trained} & {f.name.rsplit("-s", 1)[0] for f in finished}


HOLDER = """
import shutil, sys, time
from pathlib import Path
from filelock import FileLock
done, folder, release = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
folder.mkdir()
with FileLock(folder / ".lock"):
    print("held", flush=True)
    for _ in range(600):  # until the study says it waits (at most a minute)
        if release.exists():
            break
        time.sleep(0.1)
    shutil.copytree(done, folder, dirs_exist_ok=True)  # as if it had trained it meanwhile
"""


class WaitingUI(CountingUI):
    def __init__(self, release):
        super().__init__()
        self.release = release

    def note(self, message):
        super().note(message)
        if "in use by another command" in message:
            self.release.touch()


def test_a_training_another_process_holds_is_waited_for_not_trained_twice(study, supernets, tmp_path, monkeypatch):
    # Studies (and benchmarks/ranking_truth.py) share one --standalone-dir at the same time.
    out, _, _ = study
    shared, held = tmp_path / "shared", sorted((out / "standalone").glob("*-s0"))[0]
    shutil.copytree(out / "standalone", shared, ignore=lambda d, names: [held.name] if Path(d) == out / "standalone"
                    else [])
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(held), str(shared / held.name),
                               str(tmp_path / "release")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    monkeypatch.setattr(_study, "WAIT_SECONDS", 0.1)
    ui = WaitingUI(tmp_path / "release")
    report = run_correlation(tmp_path / "corr", supernets, DATA, STANDALONE, CONFIG, standalone_dir=shared, ui=ui)
    assert holder.wait(timeout=60) == 0
    assert ui.trained == []  # the held one was read once its holder finished it, not trained again
    assert any("1 stand-alone training(s) in use by another command" in n for n in ui.notes), ui.notes
    arch_id = held.name.rsplit("-s", 1)[0]
    mine = next(a for a in report["archs"] + [m["top1"] for m in report["models"]] if a["arch_id"] == arch_id)
    assert mine["standalone_accuracy"] == json.loads((held / "result.json").read_text())["val"]["accuracy"]


def test_stratified_sample_spans_the_one_shot_range(supernets, tmp_path):
    config = CorrelateConfig(archs=4, pool=8, stratify=True, bootstrap=20, kl_examples=8, device="cpu")
    report = run_correlation(tmp_path, supernets[:1], DATA, STANDALONE, config)
    pool = report["models"][0]["one_shot_spread"]["pool"]
    sample = [a["one_shot_accuracy"][0] for a in report["archs"]]
    width = (pool["max"] - pool["min"]) / config.archs  # one draw from each equal-width bin
    assert min(sample) <= pool["min"] + width and max(sample) >= pool["max"] - width
    assert len(set(a["arch_id"] for a in report["archs"])) == config.archs


def test_seeds_train_each_architecture_several_times(supernets, tmp_path):
    config = CorrelateConfig(archs=3, pool=3, seeds=2, bootstrap=20, kl_examples=8, device="cpu")
    report = run_correlation(tmp_path, supernets[:1], DATA, STANDALONE, config)
    assert all(len(a["standalone_seeds"]) == 2 for a in report["archs"])
    assert report["seed_noise"]["mean_std_between_seeds"] >= 0
    for a in report["archs"]:
        assert a["standalone_accuracy"] == pytest.approx(sum(a["standalone_seeds"]) / 2)
    first, second = ([a["standalone_seeds"][s] for a in report["archs"]] for s in (0, 1))
    ceiling = report["seed_noise"]["seed_vs_seed"]["kendall_tau"]  # the noise ceiling of any proxy
    assert ceiling["value"] == pytest.approx(float(kendall_tau(first, second)), nan_ok=True)
    share = report["seed_noise"]["noise_share"]
    assert share is None or share == pytest.approx(noise_share([a["standalone_seeds"] for a in report["archs"]]))
    assert report["seed_noise"]["tau_ceiling"] == tau_ceiling(share, 2)


def test_levers_score_differently_against_the_same_stand_alone_results(study, supernets, tmp_path):
    out, report, _ = study
    ema_model = _supernet(tmp_path / "ema-model", 0, ema_decay=0.5)
    sample = [a["arch_id"] for a in report["archs"]]

    def lever(name, **changes):
        ui = CountingUI()
        config = CorrelateConfig(archs=5, pool=8, bootstrap=20, kl_examples=8, device="cpu", **changes)
        found = run_correlation(tmp_path / name, [ema_model], DATA, STANDALONE, config,
                                standalone_dir=out / "standalone", ui=ui)
        assert [a["arch_id"] for a in found["archs"]] == sample
        assert not {t.split()[0] for t in ui.trained} & set(sample)  # the ground truth is shared, not redone
        assert all(found["config"][k] == v for k, v in changes.items())
        return [a["one_shot_accuracy"][0] for a in found["archs"]]

    plain = lever("plain")
    few = lever("few", score_images=16)
    assert all(abs(a * 16 - round(a * 16)) < 1e-9 for a in few)  # 16 images: steps of 1/16
    assert lever("recalibrate", score_mode="recalibrate") != plain
    assert lever("ema", ema=True) != plain  # the moving average is other weights
    with pytest.raises(RunDirError, match="without a moving average"):
        run_correlation(tmp_path / "no-ema", supernets[:1], DATA, STANDALONE,
                        CorrelateConfig(archs=5, pool=8, device="cpu", ema=True))


def test_refuses_other_settings_in_the_same_folders(study, supernets):
    out, _, _ = study
    with pytest.raises(RunDirError, match="pool"):
        run_correlation(out, supernets, DATA, STANDALONE, CorrelateConfig(archs=5, pool=9, device="cpu"))
    other = CorrelateConfig(archs=5, pool=8, bootstrap=50, kl_examples=16, device="cpu")
    with pytest.raises(RunDirError, match="epochs|steps"):
        run_correlation(out, supernets, DATA, STANDALONE.__class__(**{**STANDALONE.to_dict(), "steps": 3}), other)


@pytest.mark.parametrize("name", ["study.json", "standalone/settings.json"])
@pytest.mark.parametrize("content, why", [('{"pool": ', "cannot be read: Expecting value"),
                                          ("[]", "holds no JSON object")])
def test_damaged_recorded_settings_are_refused_in_one_line(study, supernets, tmp_path, name, content, why):
    # (a torn study.json, or settings.json of a shared --standalone-dir, was a JSONDecodeError traceback)
    out = tmp_path / "corr"
    shutil.copytree(study[0], out)
    (out / name).write_text(content)
    ui = CountingUI()
    with pytest.raises(RunDirError) as e:
        run_correlation(out, supernets, DATA, STANDALONE, CONFIG, ui=ui)
    assert str(e.value).startswith(f"{out / name} {why}") and "\n" not in str(e.value)
    assert ui.trained == [] and (out / name).read_text() == content


def test_refuses_a_supernet_trained_on_other_data(supernets, tmp_path):
    other = DataSpec("synthetic", subsets={"train": 96, "val": 64}, image_size=12)
    with pytest.raises(RunDirError, match=r"made with other settings \(data\.size"):
        run_correlation(tmp_path, supernets[:1], other, STANDALONE, CONFIG)


def test_config_checks():
    with pytest.raises(ValueError, match="archs"):
        CorrelateConfig(archs=2)
    with pytest.raises(ValueError, match="pool"):
        CorrelateConfig(archs=10, pool=5)
