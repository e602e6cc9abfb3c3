"""The one base of every mistake a caller can fix, and how its advice names the caller's arguments.

Core speaks to library users, so its messages name *function arguments* (``batch_size``,
``data_dir=DIR``), never command-line flags. The advice part of an error is a template whose
``{argument}`` and ``{argument=value}`` fields are rendered by whoever shows the message:

    >>> e = InputError("the training split has 40 images, fewer than one batch of 64",
    ...                hint="lower {batch_size}")
    >>> str(e)                                  # a library user reads argument names
    'the training split has 40 images, fewer than one batch of 64: lower batch_size'
    >>> e.render(lambda name, value: "--" + name.replace("_", "-"))  # the CLI reads its flags
    'the training split has 40 images, fewer than one batch of 64: lower --batch-size'

Subclasses say where the mistake is: :class:`~nas_core.space.ArchitectureError`,
:class:`~nas_core.data.DataError`, :class:`~nas_core.train.RunDirError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_FIELD = re.compile(r"\{([a-z_][a-z0-9_]*)(?:=([^{}]*))?\}")

Namer = Callable[[str, "str | None"], str]


def argument_name(name: str, value: str | None) -> str:
    """How a library user reads an argument in advice: ``batch_size``, ``data_dir=DIR``."""
    return name if value is None else f"{name}={value}"


class InputError(ValueError):
    """A mistake the caller can fix. ``message`` states the fact with the values involved;
    ``hint`` (optional) says what to do, naming arguments as ``{name}`` or ``{name=value}``."""

    def __init__(self, message: str, hint: str = ""):
        self.message, self.hint = message, hint
        super().__init__(self.render())

    def render(self, name: Namer = argument_name) -> str:
        """The whole message, with each argument field of the hint written by ``name``."""
        if not self.hint:
            return self.message
        return f"{self.message}: {_FIELD.sub(lambda m: name(m[1], m[2]), self.hint)}"

    @property
    def arguments(self) -> list[str]:
        """The argument names the hint refers to, in order."""
        return [m[1] for m in _FIELD.finditer(self.hint)]

    def __reduce__(self):  # picklable with both parts (errors cross process boundaries)
        return type(self), (self.message, self.hint)
