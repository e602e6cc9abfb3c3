"""The import layering of the three packages, checked on their source (an AST walk; nothing is
imported). Read the tables as the architecture:

    nas_core     the library, torch only: no CLI, no Optuna, no ONNX, no other first-party package
    nas_export   nas_core + ONNX: never the CLI
    nas_cli      search, pipeline, correlate: library code a Python user calls, never the
                 Typer/rich layer; commands, main, _ui, _progress: that layer, on top

First-party imports are made at module level, where a reader sees them: an import inside a
function hides a dependency (and often a cycle). The one exception is an optional package
(:data:`LAZY_ALLOWED`), imported where it is needed so that the rest works without it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = ("nas_core", "nas_cli", "nas_export")
CLI_LAYER = ("nas_cli.commands", "nas_cli.main", "nas_cli._ui", "nas_cli._progress", "typer", "rich")
FORBIDDEN = {  # modules under the key must not import anything under these, anywhere in the file
    "nas_core": ("optuna", "typer", "rich", "onnx", "onnxruntime", "onnxscript", "nas_cli", "nas_export"),
    "nas_cli.search": CLI_LAYER,
    "nas_cli.pipeline": CLI_LAYER,
    "nas_cli.correlate": CLI_LAYER,
    "nas_export": ("nas_cli", "typer", "rich"),
}
LAZY_ALLOWED = {  # first-party packages the key may import inside a function (optional installs)
    "nas_cli": ("nas_export",),
}
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def under(module: str, prefixes: tuple[str, ...]) -> str | None:
    """The first of ``prefixes`` that is ``module`` or a package holding it."""
    return next((p for p in prefixes if module == p or module.startswith(p + ".")), None)


def module_name(path: Path) -> str:
    """``packages/cli/src/nas_cli/pipeline/_pipeline.py`` -> ``nas_cli.pipeline._pipeline``."""
    parts = path.with_suffix("").parts
    parts = parts[parts.index("src") + 1:]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, list[str], bool]]:
    """``(line, targets, inside a function)`` for every import statement. The targets are
    absolute names, the imported module first: ``from ..search import x`` in
    ``nas_cli.pipeline._pipeline`` gives ``["nas_cli.search", "nas_cli.search.x"]``."""
    package = module if is_package else module.rpartition(".")[0]
    for node, in_function in _walk(tree, False):
        if isinstance(node, ast.Import):
            yield node.lineno, [a.name for a in node.names], in_function
            continue
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            if node.level - 1 >= len(parts):
                continue  # beyond the top-level package: not ours to judge
            base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
        yield node.lineno, [base] + [f"{base}.{a.name}" for a in node.names], in_function


def _walk(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, in_function
        yield from _walk(child, in_function or isinstance(child, FUNCTIONS))


def violations(source: str, module: str, file: str, is_package: bool = False) -> list[str]:
    """``file:line imports X (why)`` for each import that breaks :data:`FORBIDDEN` or is a
    first-party import inside a function."""
    found = []
    layer, banned = next(((k, v) for k, v in FORBIDDEN.items() if under(module, (k,))), ("", ()))
    lazy_ok = next((v for k, v in LAZY_ALLOWED.items() if under(module, (k,))), ())
    for line, targets, in_function in imports(ast.parse(source, file), module, is_package):
        bad = next((t for t in targets if under(t, banned)), None)
        if bad is not None:
            found.append(f"{file}:{line} imports {bad} ({layer} must not import {under(bad, banned)})")
        elif in_function and under(targets[0], FIRST_PARTY) and not under(targets[0], lazy_ok):
            found.append(f"{file}:{line} imports {targets[0]} (first-party, inside a function)")
    return found


def test_the_packages_respect_the_layering():
    sources = sorted(ROOT.glob("packages/*/src/**/*.py"))
    assert len(sources) > 50  # the glob found the packages
    found = [v for path in sources
             for v in violations(path.read_text(encoding="utf-8"), module_name(path),
                                 path.relative_to(ROOT).as_posix(), path.name == "__init__.py")]
    assert not found, "import layering broken:\n" + "\n".join(found)


@pytest.mark.parametrize("module, source, expected", [
    ("nas_core.space", "import optuna", ["imports optuna (nas_core must not import optuna)"]),
    ("nas_core.space", "def f():\n    from onnx import helper",
     ["imports onnx (nas_core must not import onnx)"]),
    ("nas_core.space", "from nas_cli.search import run_search",
     ["imports nas_cli.search (nas_core must not import nas_cli)"]),
    ("nas_core.train.loop", "def f():\n    from ..data import load_data",
     ["imports nas_core.data (first-party, inside a function)"]),
    ("nas_cli.pipeline._pipeline", "from ..commands import run",
     ["imports nas_cli.commands (nas_cli.pipeline must not import nas_cli.commands)"]),
    ("nas_cli.search._study", "from .. import _ui",
     ["imports nas_cli._ui (nas_cli.search must not import nas_cli._ui)"]),
    ("nas_cli.correlate._study", "import rich.table",
     ["imports rich.table (nas_cli.correlate must not import rich)"]),
    ("nas_cli.pipeline._report", "def f():\n    from ..search import x",
     ["imports nas_cli.search (first-party, inside a function)"]),
    ("nas_export._source", "import typer", ["imports typer (nas_export must not import typer)"]),
    # allowed
    ("nas_cli.commands.export", "def f():\n    from nas_export import export_onnx", []),
    ("nas_cli.commands.run", "import typer\nfrom ..pipeline import run_pipeline\nfrom .._ui import err", []),
    ("nas_cli.search._search", "from nas_core.space import Architecture\nimport optuna", []),
    ("nas_core.space", "def f():\n    import json\n    from onnxruntime_extras import x", []),
])
def test_the_checker_sees_each_kind_of_violation(module, source, expected):
    found = violations(source, module, "x.py")
    assert [v.split(" ", 1)[1] for v in found] == expected
    assert all(v.startswith("x.py:") for v in found)


def test_a_package_resolves_relative_imports_from_itself():
    assert violations("from .commands import run", "nas_cli.search", "x.py", is_package=True) == []
    assert violations("from ..commands import run", "nas_cli.search", "x.py", is_package=True) == [
        "x.py:1 imports nas_cli.commands (nas_cli.search must not import nas_cli.commands)"]
