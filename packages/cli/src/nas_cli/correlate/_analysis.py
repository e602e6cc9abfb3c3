"""The figures of a correlation study, per one-shot model (Bender et al. 2018, Sec. 4 and 5).

- Kendall's tau and Spearman's rho between one-shot and stand-alone accuracy of the sampled
  architectures, and top-k precision, each with a seeded bootstrap 95% confidence interval;
- the same rank correlations for the negated KL divergence to the all-paths model (Sec. 5: a
  small divergence should mean a good architecture);
- the spread of one-shot accuracies (a one-shot model that scores everything alike cannot rank);
- the search's pick: the stand-alone accuracy of the pool's one-shot top-1 architecture against
  the sampled architectures (its percentile, and whether it beats their median).
"""

from __future__ import annotations

import math
import statistics

import torch

from nas_core.stats import bootstrap, kendall_tau, spearman_rho, top_k_precision


def analyse(supernets, pool, scores, sample, best, results, kl, config) -> dict:
    """``correlation.json`` (without the settings): one entry per one-shot model, and the archs."""
    chosen = [pool[i] for i in sample]
    standalone = [_mean_accuracy(results[a.id]) for a in chosen]
    models = []
    for k, spec in enumerate(supernets):
        one_shot = [scores[k][i]["accuracy"] for i in sample]
        models.append({
            "label": spec.label, "dir": spec.dir, **spec.info,
            "one_shot_vs_standalone": _correlations(one_shot, standalone, config),
            "kl_vs_standalone": _correlations([-v for v in kl[k]], standalone, config, top=False),
            "one_shot_spread": {"sample": _spread(one_shot),
                                "pool": _spread([s["accuracy"] for s in scores[k]])},
            "top1": _top1(best[k], scores[k], pool, results, standalone),
        })
    archs = [{"arch_id": a.id, "arch_string": str(a), "params": results[a.id][0]["params"],
              "standalone_accuracy": acc, "standalone_seeds": [r["val"]["accuracy"] for r in results[a.id]],
              "one_shot_accuracy": [scores[k][i]["accuracy"] for k in range(len(supernets))],
              "kl_to_full_model": [kl[k][j] for k in range(len(supernets))]}
             for j, (i, a, acc) in enumerate(zip(sample, chosen, standalone))]
    return {"models": models, "archs": archs, "seed_noise": _seed_noise(results, chosen, config)}


def _mean_accuracy(runs: list[dict]) -> float:
    return sum(r["val"]["accuracy"] for r in runs) / len(runs)


def _correlations(x: list[float], y: list[float], config, top: bool = True) -> dict:
    figures = {
        "kendall_tau": bootstrap(kendall_tau, x, y, n_resamples=config.bootstrap, seed=config.seed).to_json(),
        "spearman_rho": bootstrap(spearman_rho, x, y, n_resamples=config.bootstrap, seed=config.seed).to_json(),
    }
    if top:
        def precision(a, b):
            return top_k_precision(a, b, config.top_fraction)

        figures["top_k_precision"] = {
            **bootstrap(precision, x, y, n_resamples=config.bootstrap, seed=config.seed).to_json(),
            "fraction": config.top_fraction, "k": max(1, round(config.top_fraction * len(x))),
            "chance": max(1, round(config.top_fraction * len(x))) / len(x)}
    return figures


def _spread(values: list[float]) -> dict:
    return {"min": min(values), "max": max(values), "median": statistics.median(values),
            "std": statistics.pstdev(values), "n": len(values)}


def _top1(arch, scores: list[dict], pool, results: dict, sample_accuracy: list[float]) -> dict:
    """The search's pick (best one-shot accuracy of the pool) against the sampled architectures."""
    acc = _mean_accuracy(results[arch.id])
    t = torch.tensor(sample_accuracy, dtype=torch.float64)
    median = statistics.median(sample_accuracy)
    return {"arch_id": arch.id, "arch_string": str(arch),
            "one_shot_accuracy": scores[pool.index(arch)]["accuracy"], "standalone_accuracy": acc,
            "sample_median": median, "sample_max": max(sample_accuracy),
            "percentile": float((t < acc).double().mean() + 0.5 * (t == acc).double().mean()) * 100,
            "above_median": acc > median}


def _seed_noise(results: dict, chosen, config) -> dict | None:
    """How much training noise alone scrambles the ranking (None with one seed per architecture).

    ``seed_vs_seed``: Kendall's tau between the first and the second stand-alone training of the
    sampled architectures: how well one training of each architecture ranks them by another. A
    one-shot tau near it means the one-shot model ranks about as well as training each
    architecture once would (against the mean of several seeds, which is less noisy than one
    training, a proxy can exceed it).

    ``noise_share``: the share of one training's accuracy variance across the sample that is
    seed noise (see :func:`noise_share`); ``tau_ceiling``: the tau a perfect proxy could reach
    against the mean of the seeds (see :func:`tau_ceiling`)."""
    seeds = [[r["val"]["accuracy"] for r in results[a.id]] for a in chosen]
    stds = [statistics.pstdev(s) for s in seeds if len(s) > 1]
    if not stds:
        return None
    share = noise_share(seeds)
    noise = {"mean_std_between_seeds": sum(stds) / len(stds), "noise_share": share,
             "tau_ceiling": tau_ceiling(share, min(len(s) for s in seeds))}
    if len(stds) == len(chosen):
        first, second = ([runs[k] for runs in seeds] for k in (0, 1))
        noise["seed_vs_seed"] = {"kendall_tau": bootstrap(
            kendall_tau, first, second, n_resamples=config.bootstrap, seed=config.seed).to_json()}
    return noise


def noise_share(seeds: list[list[float]]) -> float | None:
    """Seed variance over total variance: the mean over architectures of the (unbiased) variance
    of an architecture's accuracy across its seeds, divided by the variance across the
    architectures of their first training. 0: seeds agree exactly; near 1: one training says
    nothing about the architecture. (Both are estimates, so it can exceed 1 on a small sample.)
    None without two architectures trained twice or with a sample whose first trainings all tie."""
    repeated = [s for s in seeds if len(s) > 1]
    firsts = [s[0] for s in seeds if s]
    if len(repeated) < 2 or len(firsts) < 2 or statistics.variance(firsts) == 0:
        return None
    return statistics.fmean(statistics.variance(s) for s in repeated) / statistics.variance(firsts)


def tau_ceiling(share: float | None, seeds: int) -> float | None:
    """The Kendall tau a perfect proxy could expect against the mean of ``seeds`` trainings of
    each architecture, given the ground truth's noise share: what the noise alone leaves of 1.

    If an architecture's true accuracy and its seed noise are normal, the mean of k seeds keeps a
    share r = (1 - s) / (1 - s + s / k) of its variance from the truth (s: the noise share; the
    Spearman-Brown reliability), so it correlates with the truth at rho = sqrt(r), and Kendall's
    tau of two such normals is 2 / pi * asin(rho) (Greiner's relation). An estimate: it inherits
    the noise share's sampling error. 0 when the noise share reaches 1; None without one."""
    if share is None:
        return None
    signal = max(0.0, 1 - share)
    reliability = signal / (signal + share / seeds)  # (never 0 / 0: one of the two is positive)
    return 2 / math.pi * math.asin(math.sqrt(reliability))
