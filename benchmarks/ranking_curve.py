"""How ranking quality grows with the one-shot model's training budget, and what the levers do
(issue 15, docs/results.md). Everything runs through the `nas` CLI, in ROOT, and resumes:

1. ``train``: one-shot models of the ``cpu`` profile at several budgets (images seen), each with a
   moving average of its weights kept beside them, plus the ramp lever (half ramp, half plateau)
   and the width lever (a one-shot model at F=16; the stand-alone networks stay at the profile's);
2. ``picks`` (optional, saves hours): score the pool for every study and write each study's pick to
   ROOT/picks.json, so that ``ranking_truth.py --extra`` trains the picks in shards;
3. ``correlate``: `nas correlate` of each model (and lever) against the one stand-alone ground truth
   in ROOT/standalone (``benchmarks/ranking_truth.py`` trains it; correlate trains what is missing,
   and waits for what another process is training),
   on a uniform sample of ``--archs`` architectures;
4. ``table``: the curve and lever tables (markdown) from the correlation.json files.

``peek`` gives an early read while the ground truth is still training, from each study's cached
pool scores (``picks`` writes them): Kendall's tau on the sampled architectures that have at least
one stand-alone result (their mean is used), with its bootstrap interval. Its "pick" is the
one-shot best of those architectures (not of the pool): a preliminary figure only.

    python benchmarks/ranking_curve.py train --root runs/ranking/cifar \
        --dataset cifar10 --data-dir ../shared/data/cifar-10-batches-bin
    python benchmarks/ranking_curve.py correlate --root ... ; python benchmarks/ranking_curve.py table --root ...

Run it alone: wall times are part of the result.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

NAS = str(Path(sys.executable).with_name("nas"))
TRAIN_IMAGES = 20_000  # the cpu profile's train subset
BUDGETS = (10_000, 50_000, 200_000)  # images seen by the one-shot model
EMA_DECAY = 0.99
PROFILE_SUPERNET = ["--width", "8", "--cells-per-stack", "1", "--batch-size", "64", "--ghost-batch", "32",
                    "--lr", "0.2", "--dropout-rate", "0.1", "--val-fraction", "0.2"]


def models() -> dict[str, list[str]]:
    """Name -> the options of `nas supernet train` that make it."""
    found = {f"img{n // 1000}k": ["--epochs", f"{n / TRAIN_IMAGES:g}"] for n in BUDGETS}
    found["img50k-ramp0.5"] = ["--epochs", f"{50_000 / TRAIN_IMAGES:g}", "--dropout-ramp", "0.5"]
    # width: the one-shot model at F=16 instead of 8 (the stand-alone networks stay at F=8)
    found["img10k-f16"] = ["--epochs", f"{10_000 / TRAIN_IMAGES:g}", "--width", "16"]
    return found


# Correlation runs: name -> (one-shot model, the scoring levers: CorrelateConfig fields).
def studies() -> dict[str, tuple[str, dict]]:
    found = {f"img{b // 1000}k-score{n}k": (f"img{b // 1000}k", {"score_images": n * 1000})
             for n in (1, 5) for b in BUDGETS}
    found.update({
        "img50k-score1k-recalibrate": ("img50k", {"score_images": 1000, "score_mode": "recalibrate"}),
        "img50k-score1k-ema": ("img50k", {"score_images": 1000, "ema": True}),
        "img50k-ramp0.5-score1k": ("img50k-ramp0.5", {"score_images": 1000}),
        "img10k-f16-score1k": ("img10k-f16", {"score_images": 1000}),
    })
    return found


# Each lever's study -> the study it is compared with (the same but for the lever).
LEVERS = {"img50k-score5k": "img50k-score1k", "img50k-score1k-recalibrate": "img50k-score1k",
          "img50k-score1k-ema": "img50k-score1k", "img50k-ramp0.5-score1k": "img50k-score1k",
          "img10k-f16-score1k": "img10k-score1k"}


def _options(levers: dict) -> list[str]:
    """The `nas correlate` options of a study's levers."""
    options = ["--score-images", str(levers["score_images"])]
    if "score_mode" in levers:
        options += ["--score-mode", levers["score_mode"]]
    return options + (["--ema"] if levers.get("ema") else [])


def _data(args) -> list[str]:
    return ["--dataset", args.dataset] + (["--data-dir", args.data_dir] if args.data_dir else [])


def _run(command: list[str], log: Path) -> tuple[float, float]:
    """Run ``command`` into ``log``: (wall seconds, CPU seconds of the command). The CPU figure
    does not grow while the command waits for a core or is paused, so it is the one to compare
    between runs made beside other jobs."""
    start, cpu = time.perf_counter(), _children_cpu()
    with log.open("a") as f:
        f.write("$ " + " ".join(command) + "\n")
        f.flush()
        subprocess.run(command, stdout=f, stderr=subprocess.STDOUT, check=True)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    print(f"{seconds:7.0f} s ({cpu:.0f} CPU s)  {' '.join(command[1:4])} ... -> {log}", flush=True)
    return seconds, cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def train(args) -> None:
    """Train the one-shot models (of the ``--only`` studies, if given: two copies with disjoint
    lists use both cores of a 2-core machine)."""
    wanted = {model for name, (model, _) in studies().items() if not args.only or name in args.only}
    for name, options in models().items():
        out = args.root / "supernets" / name
        if name not in wanted or (out / "done.json").exists():
            continue
        command = [NAS, "supernet", "train", "--out", str(out), *_data(args), "--subset", str(TRAIN_IMAGES),
                   *PROFILE_SUPERNET, "--ema-decay", str(EMA_DECAY), "--device", "cpu", *options]
        if out.exists():
            command.append("--resume")
        out.parent.mkdir(parents=True, exist_ok=True)
        seconds, cpu = _run(command, args.root / f"supernet-{name}.log")
        (out / "done.json").write_text(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "command": command}))


def _truth(args) -> tuple[Path, Path]:
    """(the ground truth's folder, the studies' folder): ``standalone`` and ``studies`` with the
    profile's stand-alone schedule, ``standalone-e<E>`` and ``studies-e<E>`` with ``--truth-epochs E``."""
    suffix = f"-e{args.truth_epochs:g}" if args.truth_epochs else ""
    return args.root / f"standalone{suffix}", args.root / f"studies{suffix}"


def _trained(args) -> dict[str, tuple[str, dict]]:
    """The studies (of ``--only``, if given) whose one-shot model ``train`` has finished; the others
    are named and left for a later run (each phase resumes, so the curve can be read while its
    costly end still trains)."""
    found = {}
    for name, (model, levers) in studies().items():
        if args.only and name not in args.only:
            continue
        if (args.root / "supernets" / model / "done.json").exists():
            found[name] = (model, levers)
        else:
            print(f"{name}: skipped, one-shot model {model} not trained yet", flush=True)
    return found


def correlate(args) -> None:
    """Run the studies. A training of the ground truth that ``ranking_truth.py`` still runs is
    waited for (each training holds its folder's lock); one that is missing is trained here."""
    truth, folder = _truth(args)
    for name, (model, levers) in _trained(args).items():
        out = folder / name
        if (out / "correlation.json").exists():
            continue
        scored = args.root / "studies" / name
        if out != scored and scored.is_dir() and not out.exists():  # the scores do not depend on the truth
            out.mkdir(parents=True)
            shutil.copytree(scored / "scores", out / "scores")
            shutil.copy2(scored / "study.json", out / "study.json")
        epochs = ["--epochs", f"{args.truth_epochs:g}"] if args.truth_epochs else []
        command = [NAS, "correlate", "--profile", "cpu", *_data(args), "--supernet",
                   str(args.root / "supernets" / model), "--archs", str(args.archs), "--seeds", "2",
                   "--standalone-dir", str(truth), "--out", str(out), "--device", "cpu", *epochs,
                   *_options(levers)]
        _run(command, args.root / f"correlate-{name}{folder.name.removeprefix('studies')}.log")


def picks(args) -> None:
    """Score the pool for every study (into the study's score cache, which `correlate` then reuses)
    and write each study's pick, the pool's one-shot best, to ROOT/picks.json: picks outside the
    sample need stand-alone trainings too, which ``ranking_truth.py --extra ROOT/picks.json`` runs
    in shards beside the sample's, instead of `nas correlate` running them one by one."""
    from nas_cli.correlate import CorrelateConfig, OneShotModelSpec
    from nas_cli.correlate._study import CorrelateUI, _check_identity, _load, _pick, _pool, _score_all
    from nas_cli.pipeline import run_config
    from nas_core.train.checkpoint import atomic_write_json

    settings = run_config("cpu", dataset=args.dataset, data_dir=args.data_dir, seed=0, device="cpu")
    train, val = settings.data.load("train"), settings.data.load("val")
    picks_file = args.root / "picks.json"
    found = json.loads(picks_file.read_text()) if picks_file.exists() else {}
    for name, (model_name, levers) in _trained(args).items():
        config = CorrelateConfig(archs=args.archs, pool=max(100, args.archs), seeds=2, seed=0, device="cpu", **levers)
        spec = OneShotModelSpec(str(args.root / "supernets" / model_name), str(args.root / "supernets" / model_name))
        out = args.root / "studies" / name
        out.mkdir(parents=True, exist_ok=True)
        model = _load(spec, train, config)
        _check_identity(out, [spec], config)  # as `nas correlate` would: the same study, the same cache
        pool = _pool(model.space, config)
        scoring = val.subset(config.score_images, settings.data.seed)
        scores = _score_all(out, 0, spec, model, scoring, train, pool, config, CorrelateUI())
        best = _pick(scores)
        found[name] = {"index": best, "arch": pool[best].to_dict()}
        print(f"{name}: pick {pool[best].id} (pool index {best}, one-shot {scores[best]['accuracy']:.4f})", flush=True)
        atomic_write_json(picks_file, found)  # after each study: ranking_truth.py --extra can start


def table(args) -> None:
    from nas_cli.correlate._analysis import tau_ceiling

    rows = []
    for name, (model, _) in studies().items():
        found = _truth(args)[1] / name / "correlation.json"
        if found.exists():
            rows.append((name, model, json.loads(found.read_text())))
    if args.plot:
        curve = {f"img{b // 1000}k-score{n}k" for b in BUDGETS for n in (1, 5)}  # no lever
        _plot([(n, m, r) for n, m, r in rows if n in curve], args.plot)
    print("| study | images seen | score images | Kendall τ [95% CI] | pick percentile | one-shot training |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, model, report in rows:
        done = args.root / "supernets" / model / "done.json"
        result = report["models"][0]
        tau = result["one_shot_vs_standalone"]["kendall_tau"]
        timing = json.loads(done.read_text()) if done.exists() else {}
        seconds = timing.get("seconds", float("nan"))
        cpu = f", {timing['cpu_seconds'] / 60:.0f} CPU min" if "cpu_seconds" in timing else ""
        print(f"| {name} | {model} | {report['config'].get('score_images')} | {tau['value']:.2f} "
              f"[{tau['low']:.2f}, {tau['high']:.2f}] | {result['top1']['percentile']:.0f}% "
              f"| {seconds / 60:.0f} min{cpu} |")
    found = {name: report for name, _, report in rows}
    noise = rows[0][2].get("seed_noise") if rows else None  # one ground truth: the same in every study
    if noise and "seed_vs_seed" in noise:
        tau = noise["seed_vs_seed"]["kendall_tau"]
        share = noise.get("noise_share")  # (absent from reports written before it existed)
        print(f"\nstand-alone seed 0 vs seed 1: Kendall τ {tau['value']:.2f} [{tau['low']:.2f}, {tau['high']:.2f}], "
              f"mean std between seeds {noise['mean_std_between_seeds']:.4f}, noise share {_share(share)}, "
              f"τ ceiling of a perfect proxy {_share(tau_ceiling(share, 2))}")
    levers = [(name, base) for name, base in LEVERS.items() if name in found and base in found]
    if levers:
        print("\n| lever | against | Δτ [95% CI, paired bootstrap] |\n| --- | --- | --- |")
        for name, base in levers:
            value, low, high = _delta_tau(found[base], found[name])
            print(f"| {name} | {base} | {value:+.2f} [{low:+.2f}, {high:+.2f}] |")


def _share(value: float | None) -> str:
    return "n/a (no spread to compare with)" if value is None else f"{value:.2f}"


def _delta_tau(base: dict, lever: dict, resamples: int = 1000) -> tuple[float, float, float]:
    """τ(lever) - τ(baseline) on the same sampled architectures, with a paired percentile bootstrap
    95% interval (the same resampled architectures for both)."""
    import torch

    from nas_core.stats import kendall_tau

    truth = {a["arch_id"]: a["standalone_accuracy"] for a in base["archs"]}
    ids = [a["arch_id"] for a in base["archs"]]
    first = {a["arch_id"]: a["one_shot_accuracy"][0] for a in base["archs"]}
    second = {a["arch_id"]: a["one_shot_accuracy"][0] for a in lever["archs"]}
    x, y, t = (torch.tensor([d[i] for i in ids], dtype=torch.float64) for d in (first, second, truth))

    def delta(idx):
        return kendall_tau(y[idx], t[idx]) - kendall_tau(x[idx], t[idx])

    gen = torch.Generator().manual_seed(0)
    values = torch.tensor([delta(torch.randint(0, len(ids), (len(ids),), generator=gen)) for _ in range(resamples)])
    values = values[~values.isnan()]
    low, high = torch.quantile(values, torch.tensor([0.025, 0.975], dtype=values.dtype)).tolist()
    return delta(torch.arange(len(ids))), low, high


def _plot(rows: list[tuple[str, str, dict]], path: str) -> None:
    """Kendall's tau (95% interval) against the images the one-shot model saw, one line per number
    of scoring images."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for k, images in enumerate(sorted({r["config"]["score_images"] for _, _, r in rows})):
        points = sorted(((int(m[3:-1]) * 1000, r["models"][0]["one_shot_vs_standalone"]["kendall_tau"])
                         for _, m, r in rows if r["config"]["score_images"] == images), key=lambda p: p[0])
        xs = [x * (1 + 0.06 * k) for x, _ in points]  # side by side: the intervals overlap
        ys = [t["value"] for _, t in points]
        errors = [[t["value"] - t["low"] for _, t in points], [t["high"] - t["value"] for _, t in points]]
        ax.errorbar(xs, ys, yerr=errors, marker="o", capsize=3, label=f"scored on {images:,} val images")
    ax.set_xscale("log")
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("images seen by the one-shot model")
    ax.set_ylabel("Kendall τ vs stand-alone (95% CI)")
    ax.set_ylim(top=max(0.8, ax.get_ylim()[1]))  # room for the legend above the intervals
    ax.legend(fontsize=8, loc="upper center", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")


def peek(args) -> None:
    """An early read from what is finished: each study's cached pool scores (written by ``picks`` or
    a running ``correlate``: nothing is scored here) against the sampled architectures that have a
    stand-alone result (their mean over the seeds finished)."""
    import torch

    from nas_cli.correlate import CorrelateConfig
    from nas_cli.correlate._analysis import noise_share, tau_ceiling
    from nas_cli.correlate._study import _pool
    from nas_cli.pipeline import run_config
    from nas_core import get_space
    from nas_core.stats import bootstrap, kendall_tau

    settings = run_config("cpu", dataset=args.dataset, data_dir=args.data_dir, seed=0, device="cpu")
    archs = _pool(get_space(settings.supernet.space), CorrelateConfig(archs=args.archs, seed=0))[: args.archs]
    truth, seeds = {}, []
    for arch in archs:
        runs = [json.loads(f.read_text())["val"]["accuracy"]
                for f in sorted(_truth(args)[0].glob(f"{arch.id}-s*/result.json"))]
        if runs:
            truth[arch.id] = sum(runs) / len(runs), len(runs)
            seeds.append(runs)
    both = [runs[:2] for runs in seeds if len(runs) >= 2]
    spread = sorted(acc for acc, _ in truth.values())
    if spread:
        print(f"stand-alone accuracy: min {spread[0]:.4f}, median {spread[len(spread) // 2]:.4f}, max {spread[-1]:.4f}")
    if len(both) >= 3:
        tau, share = bootstrap(kendall_tau, [a for a, _ in both], [b for _, b in both], seed=0), noise_share(seeds)
        print(f"seed 0 vs seed 1 on {len(both)} architectures: Kendall τ {tau.value:.2f} "
              f"[{tau.low:.2f}, {tau.high:.2f}]; noise share {_share(share)} (seed variance / "
              f"variance of one training across the {len(seeds)}); τ ceiling of a perfect proxy against the mean "
              f"of two seeds {_share(tau_ceiling(share, 2))}")
    print(f"{len(truth)} of {len(archs)} architectures have stand-alone results "
          f"({sum(n for _, n in truth.values())} trainings)")
    print("| study | architectures | Kendall τ [95% CI] | one-shot best of these: percentile |")
    print("| --- | --- | --- | --- |")
    for name in studies():
        cache = args.root / "studies" / name / "scores" / "oneshot-0.jsonl"
        scored = {}
        for line in cache.read_text().splitlines() if cache.exists() else []:
            row = json.loads(line)
            scored[row["arch_id"]] = row["accuracy"]
        done = [a.id for a in archs if a.id in truth and a.id in scored]
        if len(done) < 3:
            continue
        one_shot, actual = [scored[i] for i in done], [truth[i][0] for i in done]
        tau = bootstrap(kendall_tau, one_shot, actual, seed=0)
        best = actual[max(range(len(done)), key=lambda i: one_shot[i])]
        t = torch.tensor(actual, dtype=torch.float64)
        pct = float((t < best).double().mean() + 0.5 * (t == best).double().mean()) * 100
        print(f"| {name} | {len(done)} | {tau.value:.2f} [{tau.low:.2f}, {tau.high:.2f}] | {pct:.0f}% |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("phase", choices=("train", "picks", "correlate", "table", "peek"))
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--data-dir")
    parser.add_argument("--archs", type=int, default=32)
    parser.add_argument("--only", nargs="+", choices=sorted(studies()), metavar="STUDY",
                        help="picks, correlate: these studies only (default: all whose one-shot model is trained); "
                        "train: their one-shot models only")
    parser.add_argument("--plot", help="table: also draw the curve into this PNG file")
    parser.add_argument("--truth-epochs", type=float, help="correlate, table, peek: the ground truth trained for "
                        "this many epochs (ranking_truth.py --epochs) instead of the profile's")
    args = parser.parse_args()
    {"train": train, "picks": picks, "correlate": correlate, "table": table, "peek": peek}[args.phase](args)


if __name__ == "__main__":
    main()
