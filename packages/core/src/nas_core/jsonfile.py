"""Reading the small JSON files a run keeps (``state.json``, ``result.json``, ``pipeline.json``,
``settings.json``, ...), which a crash, a full disk or a hand edit can damage.

One reader for all of them, so every damaged file reads the same way: a one-line reason naming the
file, never a traceback, and never a read that waits forever (a FIFO in the file's place).

    try:
        state = read_json_object(folder / "state.json")
    except UnreadableJson as e:
        raise CheckpointError(f"state.json {e.why}") from None   # "state.json is missing"
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class UnreadableJson(Exception):
    """A JSON file that cannot be read. ``why`` reads on from the file's name ("is missing",
    "cannot be read: Expecting value: line 1 column 1 (char 0)"); ``str()`` is the whole line, with
    the file's path."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"{path} {why}")
        self.path, self.why = path, why


def read_json(path: str | Path) -> Any:
    """The value in the JSON file ``path``; :class:`UnreadableJson` if it is missing, a link to
    nothing, not a regular file, not UTF-8, not JSON, or beyond the parser (a 5001-digit number,
    nesting deeper than the recursion limit)."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise UnreadableJson(path, "is a link to nothing")
    if not path.exists():
        raise UnreadableJson(path, "is missing")
    if not path.is_file():  # a folder, a FIFO (reading it would wait forever)
        raise UnreadableJson(path, "is not a regular file")
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as e:
        # (the first line only; Python's advice on the digit limit is no use to our users)
        line = (str(e) or type(e).__name__).splitlines()[0].split("; use sys.")[0]
        raise UnreadableJson(path, f"cannot be read: {line}") from None


def read_json_object(path: str | Path) -> dict:
    """:func:`read_json`, for a file that must hold a JSON object."""
    value = read_json(path)
    if not isinstance(value, dict):
        raise UnreadableJson(Path(path), "holds no JSON object")
    return value
