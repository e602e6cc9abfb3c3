"""Loading data sets for the commands, with notes printed instead of silently dropped."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from nas_core.data import DataError, ImageData, load_data

from ._ui import console


def note(message: str) -> None:
    console.print(f"[dim]{escape(message)}[/]", highlight=False)


def load_split(dataset: str, split: str, data_dir: Path | None, subset: int | None, seed: int,
               val_fraction: float = 0.1, image_size: int | None = None) -> ImageData:
    """One split; :class:`DataError` propagates (the caller turns it into exit code 2)."""
    return load_data(dataset, split, data_dir=data_dir, subset=subset, seed=seed,
                     val_fraction=val_fraction, image_size=image_size, log=note)


def load_test_split(dataset: str, data_dir: Path | None, subset: int | None, seed: int,
                    image_size: int | None = None) -> ImageData | None:
    """The test split, or None with a printed note where the data set has none here."""
    try:
        return load_split(dataset, "test", data_dir, subset, seed, image_size=image_size)
    except DataError as e:
        note(f"no test split, test accuracy skipped: {e}")
        return None
