""":class:`DataSpec`: which data a run uses, as a small value that can be pickled, written to JSON
and handed to another process (search workers load their own copy of the splits from it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ._errors import DataError
from ._image_data import ImageData
from ._registry import DEFAULT_DATASET, SPLITS, load_data
from ._source import DownloadProgress


@dataclass(frozen=True)
class DataSpec:
    """The arguments of :func:`load_data` that stay the same for every split of a run."""

    dataset: str = DEFAULT_DATASET
    data_dir: str | None = None  # None: the user cache, then system copies, then a download
    subsets: dict = field(default_factory=dict)  # split -> examples kept (class-balanced); absent: all
    seed: int = 0  # fixes the train/val split and the subsets
    val_fraction: float = 0.1  # part of the training files held out as the val split
    image_size: int | None = None  # pixels; None: the data set's own

    @classmethod
    def with_subset(cls, subset: int | None, **fields) -> DataSpec:
        """A spec that keeps at most ``subset`` examples of *every* split (None: all)."""
        return cls(subsets={s: subset for s in SPLITS} if subset is not None else {}, **fields)

    def load(self, split: str, log: Callable[[str], None] | None = None,
             progress: DownloadProgress | None = None) -> ImageData:
        """One split (``train``, ``val`` or ``test``); a :class:`DataError` if it cannot be had.
        ``log`` and ``progress`` (of downloads) as for :func:`load_data`."""
        return load_data(self.dataset, split, data_dir=self.data_dir, subset=self.subsets.get(split),
                         seed=self.seed, val_fraction=self.val_fraction, image_size=self.image_size,
                         log=log, progress=progress)

    def load_test(self, log: Callable[[str], None] | None = None,
                  progress: DownloadProgress | None = None) -> ImageData | None:
        """The test split, or None (said through ``log``) where this copy of the data has none."""
        try:
            return self.load("test", log, progress)
        except DataError as e:
            if log is not None:
                log(f"no test split, test accuracy skipped: {e}")
            return None
