"""benchmarks/ranking_truth.py's record of a ground truth (--summary) and the way back (--restore)."""

import importlib.util
import json
from pathlib import Path

from nas_cli.correlate import CorrelateUI
from nas_cli.correlate._study import _finished

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("ranking_truth", ROOT / "benchmarks" / "ranking_truth.py")
ranking_truth = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ranking_truth)

ROWS = [{"run": "aaaaaaaaaaaa-s0", "arch_id": "aaaaaaaaaaaa", "seed": 0, "val_accuracy": 0.8125, "params": 1234,
         "train_seconds": 156.6},
        {"run": "aaaaaaaaaaaa-s1", "arch_id": "aaaaaaaaaaaa", "seed": 1, "val_accuracy": 0.75, "params": 1234,
         "train_seconds": 99.0}]


def _record(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_a_restored_record_reads_as_finished_trainings_and_summarises_back_to_itself(tmp_path):
    record = _record(tmp_path / "truth.jsonl", ROWS)
    ranking_truth._restore(record, tmp_path / "standalone")
    for row in ROWS:
        result = _finished(tmp_path / "standalone" / row["run"], CorrelateUI())
        assert result["val"]["accuracy"] == row["val_accuracy"] and result["params"] == row["params"]
        assert result["restored_from"] == "truth.jsonl"
    ranking_truth._summary(tmp_path / "standalone", tmp_path / "again.jsonl")
    assert (tmp_path / "again.jsonl").read_text() == record.read_text()


def test_restore_keeps_a_result_the_folder_already_holds(tmp_path):
    ranking_truth._restore(_record(tmp_path / "first.jsonl", ROWS[:1]), tmp_path / "standalone")
    changed = [dict(ROWS[0], val_accuracy=0.5), ROWS[1]]
    ranking_truth._restore(_record(tmp_path / "second.jsonl", changed), tmp_path / "standalone")
    kept = _finished(tmp_path / "standalone" / ROWS[0]["run"], CorrelateUI())
    assert kept["val"]["accuracy"] == ROWS[0]["val_accuracy"] and kept["restored_from"] == "first.jsonl"
    assert _finished(tmp_path / "standalone" / ROWS[1]["run"], CorrelateUI())["restored_from"] == "second.jsonl"
