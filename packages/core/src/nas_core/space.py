"""The search space and the architectures in it: plain data, no tensors.

Paper: Bender et al., "Understanding and Simplifying One-Shot Architecture Search", ICML 2018,
Sec. 3.1 (search space). A network is a stack of NASNet-like cells of two types, ``normal`` and
``reduce``. Each cell holds N *choice blocks*. Choice block ``b`` picks

- up to ``max_inputs`` inputs among ``2 + b`` candidates: index 0 is the output of the cell two
  back, index 1 the output of the previous cell, index ``2 + j`` the output of block ``j`` of the
  same cell;
- up to ``max_ops`` operations from the op menu (the paper's seven).

An :class:`Architecture` is one such choice for every block of both cell types. It is a frozen,
hashable value with a versioned JSON form, a one-line string form and a stable id, so it can be
logged, cached and written to disk before any tensor exists.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import torch

from .errors import InputError

FORMAT_VERSION = 1  # of the JSON form this code writes
FORMAT_VERSIONS = (1,)  # the versions it reads
ARCH_KEYS = ("format_version", "space", "normal", "reduce")  # the keys of version 1
BLOCK_KEYS = ("inputs", "ops")

# The paper's op menu (Sec. 3.1), with the short codes used by the one-line string form.
OP_CODES: dict[str, str] = {
    "identity": "id",
    "sep_conv_3x3": "s3",
    "sep_conv_5x5": "s5",
    "sep_conv_7x7": "s7",
    "conv_1x7_7x1": "c17",
    "max_pool_3x3": "mp",
    "avg_pool_3x3": "ap",
}
PAPER_OPS: tuple[str, ...] = tuple(OP_CODES)
CELL_TYPES: tuple[str, ...] = ("normal", "reduce")
_OP_NAMES = {code: name for name, code in OP_CODES.items()}


class ArchitectureError(InputError):
    """An architecture (or its JSON) that does not fit the search space. The message says where."""


@dataclass(frozen=True)
class Block:
    """One choice block: which inputs it sums and which ops it applies to that sum.

    Inputs and ops are sets; they are stored sorted so that equal choices are equal values.
    """

    inputs: tuple[int, ...]
    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(sorted(self.inputs)))
        object.__setattr__(self, "ops", tuple(sorted(self.ops)))

    def to_dict(self) -> dict[str, list]:
        return {"inputs": list(self.inputs), "ops": list(self.ops)}


@dataclass(frozen=True)
class Architecture:
    """A choice for every block of both cell types of a named search space."""

    space: str
    normal: tuple[Block, ...]
    reduce: tuple[Block, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "normal", tuple(self.normal))
        object.__setattr__(self, "reduce", tuple(self.reduce))

    def cell(self, name: str) -> tuple[Block, ...]:
        """The blocks of cell type ``name`` (``normal`` or ``reduce``)."""
        return getattr(self, name)

    @property
    def cells(self) -> dict[str, tuple[Block, ...]]:
        return {name: self.cell(name) for name in CELL_TYPES}

    # -- JSON -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        cells = {name: [b.to_dict() for b in blocks] for name, blocks in self.cells.items()}
        return {"format_version": FORMAT_VERSION, "space": self.space, **cells}

    def to_json(self, indent: int | None = None) -> str:
        """Canonical JSON: sorted keys, so equal architectures give equal text."""
        separators = (",", ":") if indent is None else None
        return json.dumps(self.to_dict(), sort_keys=True, indent=indent, separators=separators)

    @classmethod
    def from_json(cls, text: str | dict) -> Architecture:
        """Parse (but do not validate against a space: see :meth:`SearchSpace.validate`). Only
        the keys of a known ``format_version`` are accepted; anything else is an
        :class:`ArchitectureError` naming what is wrong."""
        if isinstance(text, str):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                raise ArchitectureError(f"malformed JSON: {e}") from None
            except (ValueError, RecursionError) as e:  # a number of over 4,300 digits; deep nesting
                raise ArchitectureError(f"malformed JSON: {_reason(e).split(': ')[0]}") from None
        else:
            data = text
        return _parse(data)

    @property
    def id(self) -> str:
        """Stable id: the first 12 hex digits of the SHA-256 of the canonical JSON."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]

    # -- one-line string form ----------------------------------------------------------------------
    def __str__(self) -> str:
        """E.g. ``tiny|normal:0,1>id+s3;2>mp|reduce:...`` (inputs > ops, blocks split by ``;``)."""
        parts = [self.space]
        for name, blocks in self.cells.items():
            body = ";".join(
                ",".join(map(str, b.inputs)) + ">" + "+".join(OP_CODES.get(o, o) for o in b.ops)
                for b in blocks
            )
            parts.append(f"{name}:{body}")
        return "|".join(parts)

    @classmethod
    def from_string(cls, text: str) -> Architecture:
        """Inverse of ``str(arch)``."""
        space, *cells = text.strip().split("|")
        try:
            parsed = {}
            for cell in cells:
                name, body = cell.split(":", 1)
                parsed[name] = tuple(_parse_block_string(b) for b in body.split(";"))
        except ValueError as e:
            raise ArchitectureError(f"malformed architecture string {text!r}: {e}") from None
        missing = [c for c in CELL_TYPES if c not in parsed]
        if missing:
            raise ArchitectureError(f"{missing[0]} cell: missing from {text!r}")
        return cls(space, **{c: parsed[c] for c in CELL_TYPES})


def _parse_block_string(text: str) -> Block:
    inputs, ops = text.split(">")
    return Block(tuple(int(i) for i in inputs.split(",")), tuple(_OP_NAMES.get(o, o) for o in ops.split("+")))


def _parse(data: Any) -> Architecture:
    if not isinstance(data, dict):
        raise ArchitectureError("architecture JSON must be an object")
    _check_version(data.get("format_version"))
    _check_keys("architecture", data, ARCH_KEYS)
    space = data.get("space")
    if not isinstance(space, str):
        raise ArchitectureError("space: missing or not a string")
    cells = {}
    for name in CELL_TYPES:
        if name not in data:
            raise ArchitectureError(f"{name} cell: missing")
        cells[name] = _parse_cell(name, data[name])
    return Architecture(space, **cells)


def _check_version(version: Any) -> None:
    """Only the versions this code reads: an int (not a bool) in :data:`FORMAT_VERSIONS`."""
    if version is None:
        raise ArchitectureError("format_version: missing")
    if type(version) is int and version > FORMAT_VERSION:
        raise ArchitectureError(
            f"format_version: {version} is newer than this version of nas-core reads "
            f"({FORMAT_VERSION}); upgrade nas-core"
        )
    if type(version) is not int or version not in FORMAT_VERSIONS:
        raise ArchitectureError(f"format_version: {_short(version)} is not a format version "
                                f"(known: {', '.join(map(str, FORMAT_VERSIONS))})")


def _check_keys(where: str, data: dict, known: tuple[str, ...]) -> None:
    """Unknown keys are refused, not ignored: a typo ("reduction") must not pass for a default."""
    unknown = [k for k in data if k not in known]
    if unknown:
        names = ", ".join(_short(k) for k in unknown[:3]) + (", ..." if len(unknown) > 3 else "")
        raise ArchitectureError(f"{where}: unknown key{'s' * (len(unknown) > 1)} {names} "
                                f"(known: {', '.join(known)})")


def _short(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters: one line however hostile the value."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _reason(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0]


def _parse_cell(name: str, blocks: Any) -> tuple[Block, ...]:
    if not isinstance(blocks, list):
        raise ArchitectureError(f"{name} cell: must be a list of blocks")
    parsed = []
    for b, block in enumerate(blocks):
        where = f"{name} cell, block {b}"
        if not isinstance(block, dict):
            raise ArchitectureError(f"{where}: must be an object with 'inputs' and 'ops'")
        _check_keys(where, block, BLOCK_KEYS)
        for key, kind in (("inputs", int), ("ops", str)):
            value = block.get(key)
            if not isinstance(value, list) or not all(
                isinstance(v, kind) and not isinstance(v, bool) for v in value
            ):
                raise ArchitectureError(f"{where}, {key}: must be a list of {kind.__name__}")
        parsed.append(Block(tuple(block["inputs"]), tuple(block["ops"])))
    return tuple(parsed)


@dataclass(frozen=True)
class SearchSpace:
    """A NASNet-like cell search space (Sec. 3.1): counted, validated and sampled as data."""

    name: str
    num_blocks: int = 4  # N, choice blocks per cell
    max_inputs: int = 2  # inputs a block may sum
    max_ops: int = 2  # ops a block may apply
    ops: tuple[str, ...] = PAPER_OPS

    def num_candidates(self, block: int) -> int:
        """Candidate inputs of block ``block``: the two previous cells and the earlier blocks."""
        return 2 + block

    def input_choices(self, block: int) -> list[tuple[int, ...]]:
        """Every legal input set of a block, in a fixed order."""
        return _subsets(range(self.num_candidates(block)), self.max_inputs)

    def op_choices(self) -> list[tuple[str, ...]]:
        """Every legal op set of a block, in a fixed order (sorted names, as :class:`Block`)."""
        return _subsets(sorted(self.ops), self.max_ops)

    def cell_size(self) -> int:
        """Number of distinct settings of one cell."""
        n_ops = len(self.op_choices())
        return math.prod(len(self.input_choices(b)) * n_ops for b in range(self.num_blocks))

    def size(self) -> int:
        """Exact number of distinct architectures (an int, no overflow)."""
        return self.cell_size() ** len(CELL_TYPES)

    def sample(self, generator: torch.Generator) -> Architecture:
        """Uniformly random architecture: every block's input set and op set uniform."""
        op_choices = self.op_choices()
        cells = {}
        for name in CELL_TYPES:
            blocks = []
            for b in range(self.num_blocks):
                inputs = self.input_choices(b)
                i = int(torch.randint(len(inputs), (), generator=generator))
                o = int(torch.randint(len(op_choices), (), generator=generator))
                blocks.append(Block(inputs[i], op_choices[o]))
            cells[name] = tuple(blocks)
        return Architecture(self.name, **cells)

    def validate(self, arch: Architecture) -> Architecture:
        """Raise :class:`ArchitectureError` naming the cell, block and field at fault."""
        if arch.space != self.name:
            raise ArchitectureError(f"space: architecture is for {arch.space!r}, not {self.name!r}")
        for name in CELL_TYPES:
            self._validate_cell(name, arch.cell(name))
        return arch

    def _validate_cell(self, name: str, blocks: tuple[Block, ...]) -> None:
        if len(blocks) != self.num_blocks:
            raise ArchitectureError(
                f"{name} cell: has {len(blocks)} blocks, space {self.name!r} has {self.num_blocks}"
            )
        for b, block in enumerate(blocks):
            where = f"{name} cell, block {b}"
            _check_set(f"{where}, inputs", block.inputs, self.max_inputs)
            _check_set(f"{where}, ops", block.ops, self.max_ops)
            for i in block.inputs:
                if not 0 <= i < self.num_candidates(b):
                    raise ArchitectureError(
                        f"{where}, inputs: index {i} out of range 0..{self.num_candidates(b) - 1}"
                    )
            for op in block.ops:
                if op not in self.ops:
                    raise ArchitectureError(f"{where}, ops: unknown op {op!r} (known: {', '.join(self.ops)})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "num_blocks": self.num_blocks,
            "max_inputs": self.max_inputs,
            "max_ops": self.max_ops,
            "ops": list(self.ops),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSpace:
        return cls(**{**data, "ops": tuple(data["ops"])})


def _subsets(items, max_size: int) -> list[tuple]:
    items = list(items)
    return [c for k in range(1, max_size + 1) for c in itertools.combinations(items, k)]


def _check_set(where: str, values: tuple, max_size: int) -> None:
    if not values:
        raise ArchitectureError(f"{where}: empty (a block needs at least one)")
    if len(values) > max_size:
        raise ArchitectureError(f"{where}: {len(values)} given, at most {max_size} allowed")
    duplicates = sorted({v for v in values if values.count(v) > 1}, key=str)
    if duplicates:
        raise ArchitectureError(f"{where}: duplicate {duplicates[0]!r}")


# -- registry (timm style: tests loop over it, so a new space is covered automatically) ------------
_SPACES: dict[str, SearchSpace] = {}


def register_space(space: SearchSpace) -> SearchSpace:
    """Make ``space`` available by name to :func:`get_space`, the CLI and the tests."""
    if space.name in _SPACES and _SPACES[space.name] != space:
        raise ValueError(f"a different search space named {space.name!r} is already registered")
    for op in space.ops:
        if op not in OP_CODES:
            raise ValueError(f"space {space.name!r}: op {op!r} is not implemented")
    _SPACES[space.name] = space
    return space


def get_space(name: str) -> SearchSpace:
    """The registered search space ``name`` (``bender2018``, ``tiny``, ...)."""
    try:
        return _SPACES[name]
    except KeyError:
        raise KeyError(f"unknown search space {name!r} (known: {', '.join(list_spaces())})") from None


def list_spaces() -> list[str]:
    return sorted(_SPACES)


# The paper's main setting: N=4 blocks, the seven ops (Sec. 3.1).
register_space(SearchSpace("bender2018"))
# A small space for tests and demos: 2 blocks, 3 ops.
register_space(SearchSpace("tiny", num_blocks=2, ops=("identity", "sep_conv_3x3", "max_pool_3x3")))
