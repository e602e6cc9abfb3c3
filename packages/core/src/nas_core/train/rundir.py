"""One rule for run directories: a folder continues only the work it was started with.

Every place that finds settings recorded on disk (a checkpoint's ``state.json``, ``pipeline.json``,
a study, a correlation folder) compares them with the request through :func:`require_same`, so
every refusal reads the same way and names each setting that differs, with both values.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from ..jsonfile import UnreadableJson, read_json_object
from .checkpoint import atomic_write_json


class RunDirError(InputError):
    """The run directory does not fit the request (it holds other work, or no work yet)."""


def differences(old: dict, new: dict, prefix: str = "") -> list[tuple[str, object, object]]:
    """``(dotted key, old value, new value)`` of each setting that differs, descending into dicts
    present on both sides."""
    found = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += differences(a, b, f"{prefix}{key}.")
        elif a != b:
            found.append((prefix + key, a, b))
    return found


def require_same(recorded: dict, wanted: dict, *, where: str | Path, what: str, hint: str,
                 error: type[InputError] = RunDirError) -> None:
    """Raise ``error`` if ``recorded`` settings differ from ``wanted`` (compared as JSON would
    read them back: tuples are lists). ``hint`` says what to do, naming arguments as ``{name}``."""
    changed = differences(_as_json(recorded), _as_json(wanted))
    if changed:
        listed = "; ".join(f"{key} {old!r}, not {new!r}" for key, old, new in changed)
        raise error(f"{where} holds {what} made with other settings ({listed})", hint=hint)


def guard_settings(path: str | Path, settings: dict, *, what: str, hint: str) -> None:
    """Record ``settings`` in the JSON file ``path``, or, if it exists, :func:`require_same`."""
    path = Path(path)
    if not path.exists():
        atomic_write_json(path, settings)
        return
    try:
        recorded = read_json_object(path)
    except UnreadableJson as e:
        raise RunDirError(str(e), hint=hint) from None
    require_same(recorded, settings, where=path.parent, what=what, hint=hint)


def _as_json(settings: dict) -> dict:
    return json.loads(json.dumps(settings))
