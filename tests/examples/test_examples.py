"""Every numbered example runs end to end with its --smoke settings (or is run by the test named
in TESTED_ELSEWHERE, when it needs a file made by the project)."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("[0-9][0-9]_*.py"))
EXPECTED = {
    "01_quickstart.py": ["one-shot accuracy", "stand-alone val accuracy"],
    "02_image_folder.py": ["training and", "best by one-shot accuracy"],
    "03_multi_objective.py": ["Pareto front", "params"],
    "04_serve_onnx.py": ["top-1 agreement 100.00%", "onnxruntime test accuracy"],
}
# Examples that need an exported model: run there against one, with torch unimportable.
TESTED_ELSEWHERE = {"05_serve_without_torch.py": "tests/export/test_deploy.py"}
RUN = [p for p in EXAMPLES if p.name not in TESTED_ELSEWHERE]


def run_example(script: Path, folder: Path) -> subprocess.CompletedProcess:
    """``script --smoke`` in a clean environment of its own: working directory, home, data cache;
    one thread (toy networks gain nothing from more, and two examples share the CPU)."""
    return subprocess.run([sys.executable, str(script), "--smoke"], capture_output=True, text=True,
                          timeout=300, cwd=folder, env={"NAS_DATA_DIR": str(folder / "cache"), "PATH": "/usr/bin:/bin",
                                                        "HOME": str(folder), "OMP_NUM_THREADS": "1"})


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    """The examples selected in this session, started two at a time (separate processes and
    folders: a 2-core machine runs two side by side) when the first is asked for: script -> future."""
    selected = {item.callspec.params["script"] for item in request.session.items
                if getattr(item, "module", None) is request.module and item.originalname == "test_example_runs"}
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        yield {s: pool.submit(run_example, s, tmp_path_factory.mktemp(s.stem)) for s in RUN if s in selected}


def test_examples_exist():
    assert [p.name for p in EXAMPLES] == sorted([*EXPECTED, *TESTED_ELSEWHERE])
    root = Path(__file__).resolve().parents[2]
    assert all((root / test).is_file() for test in TESTED_ELSEWHERE.values())


@pytest.mark.parametrize("script", RUN, ids=lambda p: p.name)
def test_example_runs(script, runs):
    result = runs[script].result()
    assert result.returncode == 0, result.stdout + result.stderr
    for expected in EXPECTED.get(script.name, ["\n"]):
        assert expected in result.stdout, result.stdout
