"""matplotlib for the reports (an optional extra: ``pip install 'nas-cli[plots]'``).

Imported inside the functions that draw, so the rest of nas-cli works without matplotlib;
:func:`pyplot` raises ImportError where it is missing, and the callers skip their plots.
"""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (files only, no window)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, *paths: Path, dpi: int = 110) -> list[Path]:
    """Save ``fig`` (tight layout) to each of ``paths`` and close it."""
    fig.tight_layout()
    for path in paths:
        fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return list(paths)
