"""The one exception of :mod:`nas_core.data`."""

from __future__ import annotations

from ..errors import InputError


class DataError(InputError):
    """Data that cannot be found, read or split. The message is one line a person can act on:
    it names the file or the option at fault and says what to do. The CLI prints it and exits 2.
    """
