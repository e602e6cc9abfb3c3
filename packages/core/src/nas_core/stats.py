"""Rank statistics for the one-shot vs stand-alone comparison, in plain torch.

Paper: Bender et al., "Understanding and Simplifying One-Shot Architecture Search",
ICML 2018, Sec. 4 (Fig. 3/4: one-shot accuracy against stand-alone accuracy). The paper
shows scatter plots; we quantify them with Kendall's tau-b, Spearman's rho, top-k
precision and seeded bootstrap confidence intervals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Statistic = Callable[[torch.Tensor, torch.Tensor], float]


def _pair(x, y) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(x, dtype=torch.float64).flatten()
    y = torch.as_tensor(y, dtype=torch.float64).flatten()
    if x.numel() != y.numel():
        raise ValueError(f"x and y differ in length: {x.numel()} vs {y.numel()}")
    if x.numel() < 2:
        raise ValueError(f"rank correlation needs at least 2 points, got {x.numel()}")
    return x, y


def kendall_tau(x, y) -> float:
    """Kendall's tau-b (ties in either variable handled); nan if one side is constant."""
    x, y = _pair(x, y)
    dx = torch.sign(x[:, None] - x[None, :])  # (n, n)
    dy = torch.sign(y[:, None] - y[None, :])
    upper = torch.triu(torch.ones_like(dx, dtype=torch.bool), diagonal=1)
    s = (dx * dy)[upper].sum()
    n_x = (dx[upper] != 0).sum()  # pairs not tied in x
    n_y = (dy[upper] != 0).sum()
    denom = torch.sqrt(n_x.double() * n_y.double())
    return float(s / denom) if denom > 0 else float("nan")


def average_ranks(x) -> torch.Tensor:
    """Ranks 1..n, ties receiving the mean of the ranks they span."""
    x = torch.as_tensor(x, dtype=torch.float64).flatten()
    less = (x[None, :] < x[:, None]).sum(dim=1).double()
    equal = (x[None, :] == x[:, None]).sum(dim=1).double()
    return less + (equal + 1) / 2


def spearman_rho(x, y) -> float:
    """Spearman's rho as the Pearson correlation of average ranks; nan if constant."""
    x, y = _pair(x, y)
    rx, ry = average_ranks(x), average_ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = torch.sqrt((rx * rx).sum() * (ry * ry).sum())
    return float((rx * ry).sum() / denom) if denom > 0 else float("nan")


def top_k_precision(predicted, actual, fraction: float = 0.1) -> float:
    """Share of the predicted top ``fraction`` that is also in the actual top ``fraction``."""
    x, y = _pair(predicted, actual)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    k = max(1, round(fraction * x.numel()))
    top_x = set(torch.argsort(x, descending=True, stable=True)[:k].tolist())
    top_y = set(torch.argsort(y, descending=True, stable=True)[:k].tolist())
    return len(top_x & top_y) / k


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a percentile bootstrap confidence interval."""

    value: float
    low: float
    high: float
    level: float = 0.95

    def to_json(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high, "level": self.level}


def bootstrap(statistic: Statistic, x, y, *, n_resamples: int = 1000, level: float = 0.95, seed: int = 0) -> Estimate:
    """Percentile bootstrap CI over paired resamples (seeded; nan resamples dropped)."""
    x, y = _pair(x, y)
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, x.numel(), (n_resamples, x.numel()), generator=gen)
    values = torch.tensor([statistic(x[i], y[i]) for i in idx], dtype=torch.float64)
    values = values[~values.isnan()]
    point = statistic(x, y)
    if values.numel() == 0:
        return Estimate(point, float("nan"), float("nan"), level)
    alpha = (1 - level) / 2
    low, high = torch.quantile(values, torch.tensor([alpha, 1 - alpha], dtype=torch.float64))
    return Estimate(point, min(float(low), point), max(float(high), point), level)


def stratified_indices(values, m: int, seed: int = 0) -> list[int]:
    """Pick ``m`` indices spread over the range of ``values`` (Sec. 4's stratified sample).

    The observed range [min, max] is split into ``m`` equal-width bins and one index is drawn
    (seeded) from each non-empty bin; empty bins are filled from the remaining values closest
    to the bin centre, so the result always has ``m`` distinct indices.
    """
    v = torch.as_tensor(values, dtype=torch.float64).flatten()
    if not 1 <= m <= v.numel():
        raise ValueError(f"cannot pick {m} of {v.numel()} values")
    gen = torch.Generator().manual_seed(seed)
    lo, hi = float(v.min()), float(v.max())
    width = (hi - lo) / m or 1.0
    bins = ((v - lo) / width).floor().clamp(max=m - 1).long()
    chosen: list[int] = []
    for b in range(m):
        members = (bins == b).nonzero().flatten()
        if members.numel():
            chosen.append(int(members[torch.randint(members.numel(), (1,), generator=gen)]))
    for b in range(m):  # fill empty bins by nearness to their centre
        if len(chosen) == m:
            break
        if not (bins == b).any():
            dist = (v - (lo + (b + 0.5) * width)).abs()
            dist[chosen] = float("inf")
            chosen.append(int(dist.argmin()))
    return sorted(chosen)
