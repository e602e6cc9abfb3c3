"""`nas run` settings as TOML: read a config file or a ``section.key=value`` override into a
layer, apply a layer to settings with every key and type checked, and write settings back.

A config file's sections mirror :class:`~nas_cli.pipeline.RunConfig`'s parts, and its top-level
keys are RunConfig's own fields::

    profile = "quick"        # the base settings (_profiles.py); every key below replaces one of them
    top_k = 3

    [data]                   # DataSpec
    dataset = "folder"
    data_dir = "/data/flowers"
    subsets = {}             # a table is replaced whole: {} uses every image
    image_size = 64

    [supernet]               # SupernetConfig (phase 1)
    dropout_rate = 0.2       # r, Sec. 3.2: the paper's key hyper-parameter
    epochs = 10              # epochs without steps in the same place clears the base's steps

    [search]                 # SearchConfig (phase 2)
    [standalone]             # StandaloneConfig (phase 3)

TOML has no null: a setting that is not set (None) is written as a comment and, read back, keeps
the base's value (None in every profile). Our choice: there is no [export] section, as nothing of
the export phase is configurable; the deployed finalist is chosen by the top-level ``pick``.
"""

from __future__ import annotations

import difflib
import inspect
import json
import re
from pathlib import Path
from typing import get_args, get_type_hints

from nas_core.errors import InputError

from ..search import SearchConfig
from ._config import PARTS, RunConfig

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

HEADER = "# nas run settings: run them with `nas run --config FILE`; unset settings are comments."
UNSET_STUDY = SearchConfig().study  # a study left at this name is named after the run folder
KINDS = {bool: "true or false", int: "an int", float: "a number", str: "a string", dict: "a table"}
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
SECTION_NOTES = {"supernet": ": phase 1, the one-shot model (Sec. 3.2)", "search": ": phase 2",
                 "standalone": ": phase 3, the finalists trained from scratch (Sec. 4)"}


def _kinds(cls: type) -> dict[str, type]:
    """Field name -> the one type a TOML value must have (``int | None`` -> int)."""
    kinds = {}
    for name, hint in get_type_hints(cls).items():
        args = [a for a in get_args(hint) if a is not type(None)]
        kinds[name] = args[0] if args else hint
    return kinds


TOP_LEVEL = {name: kind for name, kind in _kinds(RunConfig).items() if name not in PARTS}
SECTIONS = {name: _kinds(part) for name, part in PARTS.items()}


def read_toml(path: str | Path) -> dict:
    """The config file at ``path`` as a layer (nested dicts)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot read the config file {path}: {e.strerror or e}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path} is not a valid TOML file: {e}") from None


def parse_override(text: str) -> dict:
    """``"supernet.dropout_rate=0.2"`` as a layer. The value is read as TOML (``0.2``, ``true``,
    ``"x"``, ``{train = 100}``); what TOML cannot read is a string (``data.dataset=cifar10``)."""
    key, sep, value = text.partition("=")
    names = key.strip().split(".")
    if not sep or not all(BARE_KEY.fullmatch(name) for name in names):
        raise InputError(f"override {text!r} is not KEY=VALUE (e.g. supernet.dropout_rate=0.2)")
    try:
        parsed = tomllib.loads(f"value = {value.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    layer: dict = {}
    nest(layer, names, parsed)
    return layer


def nest(layer: dict, names: list[str], value) -> None:
    """Set ``layer[names[0]][names[1]]... = value``, creating the tables on the way."""
    for name in names[:-1]:
        layer = layer.setdefault(name, {})
    layer[names[-1]] = value


def merge(settings: dict, layer: dict, source: str = "") -> None:
    """Apply ``layer`` to ``settings`` (a :meth:`RunConfig.to_dict`) key by key, each key and
    type checked; an :class:`InputError` names the first wrong key (and ``source``, if given)."""
    where = f" in {source}" if source else ""
    for key, value in layer.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise InputError(f"{key} must be a table ([{key}]), got {_show(value)}{where}")
            _merge_section(settings[key], value, key, where)
        elif key in TOP_LEVEL:
            settings[key] = _checked(key, TOP_LEVEL[key], value, where)
        else:
            raise InputError(f"unknown key {key}{where}", hint=_suggest(key, [*TOP_LEVEL, *SECTIONS]))


def _merge_section(part: dict, layer: dict, section: str, where: str) -> None:
    kinds = SECTIONS[section]
    for key, value in layer.items():
        if key not in kinds:
            raise InputError(f"unknown key {section}.{key}{where}",
                             hint=_suggest(key, list(kinds), prefix=f"{section}."))
        part[key] = _checked(f"{section}.{key}", kinds[key], value, where)
    if "epochs" in layer and "steps" not in layer and "steps" in part:
        part["steps"] = None  # steps would override the epochs just given


def _checked(key: str, kind: type, value, where: str):
    """``value`` if it is of ``kind`` (an int is also a number); else an error naming ``key``."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InputError(f"{key} must be {KINDS.get(kind, kind.__name__)}, got {_show(value)}{where}")
    if key == "data.subsets":
        _check_subsets(value, where)
    return value


def _check_subsets(subsets: dict, where: str) -> None:
    splits = ("train", "val", "test")
    for split, n in subsets.items():
        if split not in splits:
            raise InputError(f"data.subsets.{split} is not a split{where}", hint=f"use {', '.join(splits)}")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise InputError(f"data.subsets.{split} must be an int of at least 1, got {_show(n)}{where}")


def _suggest(key: str, known: list[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f"did you mean {prefix}{close[0]}?"
    return f"known keys: {', '.join(prefix + k for k in known)}"


def _show(value) -> str:
    return json.dumps(value, default=str)


def to_toml(config: RunConfig) -> str:
    """``config`` as a config file: read back by :func:`~nas_cli.pipeline.load_run_config`, it
    gives the same :class:`RunConfig`."""
    settings = config.to_dict()
    lines = [HEADER, *_lines({k: settings[k] for k in TOP_LEVEL}, TOP_LEVEL)]
    for section, part in PARTS.items():
        own = inspect.get_annotations(part)  # a part's own fields first, then TrainConfig's
        keys = sorted(settings[section], key=lambda k: k not in own)
        lines += ["", f"[{section}]  # {part.__name__}{SECTION_NOTES.get(section, '')}",
                  *_lines({k: settings[section][k] for k in keys}, SECTIONS[section], section == "search")]
    return "\n".join(lines) + "\n"


def _lines(part: dict, kinds: dict[str, type], unset_study: bool = False) -> list[str]:
    lines = []
    for key, value in part.items():
        if unset_study and key == "study" and value == UNSET_STUDY:
            lines.append("# study: not set (nas run names it after the run folder)")
        elif value is None:
            lines.append(f"# {key}: not set")
        else:  # epochs = 2 in a profile is written 2.0, as it reads back
            lines.append(f"{key} = {_value(_checked(key, kinds[key], value, ''))}")
    return lines


def _value(value) -> str:
    """One TOML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # Python's float forms (1e-05, inf, nan) are TOML's
    if isinstance(value, str):  # a JSON string is a TOML basic string, but for DEL
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _key(key: str) -> str:
    return key if BARE_KEY.fullmatch(key) else _value(key)
