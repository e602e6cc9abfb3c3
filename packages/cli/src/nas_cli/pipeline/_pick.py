"""Which finalist is deployed: a rule over their stand-alone figures (``--pick``).

- ``accuracy``: the best stand-alone val accuracy (the default);
- ``smallest-within:P%``: the fewest parameters among finalists within P points of the best val
  accuracy (e.g. ``smallest-within:0.5%``);
- ``max-latency-ms:T``: the best val accuracy among finalists whose onnxruntime batch-1 latency
  is at most T milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from nas_core.errors import InputError

RULES = ("accuracy", "smallest-within:P%", "max-latency-ms:T")


@dataclass(frozen=True)
class PickRule:
    kind: str  # "accuracy" | "smallest-within" | "max-latency-ms"
    value: float | None = None  # accuracy points (fraction, 0.005 for 0.5%) or milliseconds


def parse_pick(text: str) -> PickRule:
    """The rule written as ``text``; an :class:`InputError` naming the forms it can take."""
    kind, _, value = text.strip().partition(":")
    try:
        if kind == "accuracy" and not value:
            return PickRule("accuracy")
        if kind == "smallest-within" and value.endswith("%") and float(value[:-1]) >= 0:
            return PickRule(kind, float(value[:-1]) / 100)
        if kind == "max-latency-ms" and float(value) > 0:
            return PickRule(kind, float(value))
    except ValueError:
        pass
    raise InputError(f"unknown pick rule {text!r}", hint=f"give {{pick}} as one of {', '.join(RULES)}")


def pick_finalist(finalists: list[dict], rule: PickRule) -> dict:
    """The finalist ``rule`` deploys. A finalist is a dict with ``rank`` (1: best one-shot
    accuracy), stand-alone ``val_accuracy`` and ``params``, and ``latency_ms`` (onnxruntime, batch
    1; None or absent where it was not measured). Ties go to the better one-shot rank.
    An :class:`InputError` when ``max-latency-ms`` leaves no finalist."""
    if rule.kind == "accuracy":
        return max(finalists, key=_accuracy)
    if rule.kind == "smallest-within":
        best = max(f["val_accuracy"] for f in finalists)
        near = [f for f in finalists if f["val_accuracy"] >= best - rule.value - 1e-9]
        return min(near, key=lambda f: (f["params"], -f["val_accuracy"], f["rank"]))
    return max(_within_latency(finalists, rule.value), key=_accuracy)


def _accuracy(finalist: dict) -> tuple:
    return finalist["val_accuracy"], -finalist["rank"]


def _within_latency(finalists: list[dict], limit_ms: float) -> list[dict]:
    timed = [f for f in finalists if f.get("latency_ms") is not None]
    if not timed:
        raise InputError(f"pick rule max-latency-ms:{limit_ms:g} needs the finalists' onnxruntime latency, "
                         "and none was measured (nas-export is not installed)",
                         hint="install nas-export, or choose another {pick}")
    fast = [f for f in timed if f["latency_ms"] <= limit_ms]
    if not fast:
        fastest = min(timed, key=lambda f: f["latency_ms"])
        raise InputError(f"no finalist runs within {limit_ms:g} ms on onnxruntime (the fastest, #{fastest['rank']}, "
                         f"takes {fastest['latency_ms']:.3g} ms)",
                         hint="give {pick} a larger max-latency-ms (the trained finalists are kept) or raise {top_k}")
    return fast
