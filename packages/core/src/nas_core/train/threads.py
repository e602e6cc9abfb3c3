"""How many CPU threads torch uses (placeholder while measuring)."""

from __future__ import annotations

import torch


def apply_threads(spec: str) -> None:
    if spec != "auto":
        torch.set_num_threads(int(spec))
