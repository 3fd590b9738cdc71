"""Progress a person can read: running totals, rate and ETA from the files workers write."""
import logging

from mmfeat.beam.extract_job import extract
from mmfeat.extract.progress import RunProgress, format_eta, record_progress
from mmfeat.extract.unit_stats import UnitStatsBatch
from mmfeat.store.files import replace_json
from tests.conftest import sentences, write_jsonl


def test_snapshot_counts_rows_done_against_rows_read(tmp_path):
    replace_json(tmp_path / "read" / "a.json", {"rows": 300})
    replace_json(tmp_path / "read" / "b.json", {"rows": 100})
    record_progress(tmp_path, "00001-0000", 50)
    record_progress(tmp_path, "00002-0001", 50)
    line = RunProgress("set", tmp_path, bar=False).snapshot()
    assert line.startswith("set: 100 rows done of 400 read (25.0%)") and "ETA" in line
    assert format_eta(125) == "2m05s" and format_eta(7260) == "2h01m"
    # A finished unit's stats count all its rows (it writes no progress for its last chunk).
    batch = UnitStatsBatch(tmp_path, lambda fn, *args: fn(*args), flush_seconds=3600)
    batch.add({"bucket": 1, "slot": 0, "n_input": 80})
    batch.add({"bucket": 3, "slot": 0, "n_input": 20})
    assert RunProgress("set", tmp_path, bar=False).snapshot().startswith("set: 100 rows done")  # not written yet
    batch.flush()
    assert RunProgress("set", tmp_path, bar=False).snapshot().startswith("set: 150 rows done of 400 read")


def test_a_run_logs_plain_progress_lines_and_a_summary_when_not_on_a_terminal(tmp_path, tiny_spec, caplog):
    caplog.set_level(logging.INFO, logger="mmfeat")
    report = extract(tiny_spec, tmp_path / "store", str(write_jsonl(tmp_path / "m.jsonl", sentences(40))),
                     chunk_rows=4, progress_interval=0.05)
    messages = [r.getMessage() for r in caplog.records]
    assert any("rows done" in m and "rows/s" in m for m in messages)
    assert any(m.startswith(f"run {report['run_id']} of tiny_text: ok, 40 rows") for m in messages)
