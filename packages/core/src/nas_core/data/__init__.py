"""Image data for one-shot architecture search: data sets as uint8 tensors, and a loader that
keeps them on the device.

Data sets (:func:`list_datasets`): ``fashion-mnist`` (the default), ``cifar10``, ``cifar100``,
``folder`` (one sub-folder per class) and ``synthetic``. :func:`load_data` returns one split as
an :class:`ImageData` (:class:`DataSpec` holds its arguments for all splits of a run);
:class:`DeviceLoader` batches it with augmentation done as a few tensor
ops per batch, after airbench. :func:`open_image` and :func:`fit_image` open an untrusted
image file and fit it to the network, for training and serving alike. Everything that goes wrong
is a :class:`DataError` with a one-line message. User guide: ``docs/data.md``.
"""

from ._cache import clear_data_cache
from ._errors import DataError
from ._image_data import ImageData, channel_stats
from ._image_file import fit_image, open_image
from ._loader import DeviceLoader
from ._registry import DEFAULT_DATASET, dataset_shape, list_datasets, load_data, register_dataset
from ._source import DownloadProgress, Raw, Request
from ._spec import DataSpec
from ._splits import derived_generator

__all__ = [
    "DEFAULT_DATASET",
    "DataError",
    "DataSpec",
    "DeviceLoader",
    "ImageData",
    "DownloadProgress",
    "Raw",
    "Request",
    "channel_stats",
    "clear_data_cache",
    "dataset_shape",
    "derived_generator",
    "fit_image",
    "list_datasets",
    "load_data",
    "open_image",
    "register_dataset",
]
