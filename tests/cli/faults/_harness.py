"""Fault injection (issue 14), shared: the harness of benchmarks/faults.py and :func:`killed`."""

import importlib.util
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("faults", ROOT / "benchmarks" / "faults.py")
faults = sys.modules.setdefault("faults", importlib.util.module_from_spec(_spec))  # (dataclasses look it up)
_spec.loader.exec_module(faults)

KILLS = 1  # per command here; benchmarks/faults.py: 20
SEED = 14  # seeds the kill moments (each command its own stream)


def killed(command, ref, folder):
    """``command`` killed at :data:`KILLS` seeded moments of the uninterrupted run's time, then run
    to its end; asserts what every command must do after kill -9."""
    moments = faults.delays(random.Random(f"{SEED}-{command.name}"), ref.seconds, KILLS)
    outcome = faults.with_kills(command, ref, folder, moments)
    assert outcome.ok, f"killed at {moments} s: {outcome.problems}"
    assert outcome.identical, f"killed at {moments} s: the final weights differ from an uninterrupted run's"
    return outcome
