"""Every numbered example runs end to end with its --smoke settings."""

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


def test_examples_exist():
    assert [p.name for p in EXAMPLES] == sorted(EXPECTED)


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    result = subprocess.run([sys.executable, str(script), "--smoke"], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path, env={"NAS_DATA_DIR": str(tmp_path / "cache"),
                                                            "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    for expected in EXPECTED.get(script.name, ["\n"]):
        assert expected in result.stdout, result.stdout
