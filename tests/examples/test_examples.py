"""Every numbered example runs end to end with its --smoke settings (or is run by the test named
in TESTED_ELSEWHERE, when it needs a file made by the project)."""

import subprocess
import sys
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


def test_examples_exist():
    assert [p.name for p in EXAMPLES] == sorted([*EXPECTED, *TESTED_ELSEWHERE])
    root = Path(__file__).resolve().parents[2]
    assert all((root / test).is_file() for test in TESTED_ELSEWHERE.values())


@pytest.mark.parametrize("script", [p for p in EXAMPLES if p.name not in TESTED_ELSEWHERE], ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    result = subprocess.run([sys.executable, str(script), "--smoke"], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path, env={"NAS_DATA_DIR": str(tmp_path / "cache"),
                                                            "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    for expected in EXPECTED.get(script.name, ["\n"]):
        assert expected in result.stdout, result.stdout
