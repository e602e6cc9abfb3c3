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
