"""Manifest reading: formats, line numbers of malformed rows, job-level errors that name the file."""
import pytest

from mmfeat.errors import MmfeatError
from mmfeat.records import ErrorRow, Record
from mmfeat.sources.manifest import ManifestSource


def read_all(path, **kw):
    source = ManifestSource(str(path), column="text", **kw)
    return [row for shard in source.list_shards() for row in source.read_shard(shard)]


def test_csv_wrong_field_count_is_an_error_row_with_its_line(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text('id,text\na,hello\nb,"multi\nline text"\nc,too,many\nd,fine\n')
    rows = read_all(path)
    assert [type(r) for r in rows] == [Record, Record, ErrorRow, Record]
    assert rows[1].value == "multi\nline text"
    assert (rows[2].line, rows[2].stage) == (5, "read") and "expected 2 fields, got 3" in rows[2].reason
    assert rows[3].line == 6


def test_jsonl_bad_lines_keep_line_numbers_and_the_rest_is_read(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": 1, "text": "a"}\n\n{broken\n[1, 2]\n{"id": 2.5, "text": "x"}\n{"id": "z", "text": "b"}\n')
    rows = read_all(path)
    assert rows[0][:4] == ("1", "a", str(path), 1)
    assert [(r.line, r.reason.split(":")[0]) for r in rows[1:4]] == [
        (3, "bad JSON"), (4, "expected a JSON object, got list"), (5, "id must be a string or integer, got 2.5")]
    assert rows[4][:4] == ("z", "b", str(path), 6)


def test_parquet_nulls_become_error_rows(tmp_path):
    import pandas as pd

    pd.DataFrame({"id": ["a", None, "c"], "text": ["x", "y", None]}).to_parquet(tmp_path / "m.parquet")
    rows = read_all(tmp_path / "m.parquet")
    assert isinstance(rows[0], Record) and isinstance(rows[1], ErrorRow) and rows[1].line == 2
    assert rows[2][:4] == ("c", None, str(tmp_path / "m.parquet"), 3)  # null text is the encoder's call


def test_missing_column_fails_the_job_naming_file_and_column(tmp_path):
    (tmp_path / "m.csv").write_text("id,body\na,hello\n")
    with pytest.raises(MmfeatError, match=r"m.csv: no column 'text' \(columns: id, body\)"):
        ManifestSource(str(tmp_path / "m.csv"), column="text").list_shards()


def test_unmatched_glob_and_unknown_format_fail_clearly(tmp_path):
    with pytest.raises(MmfeatError, match="no manifest file matches"):
        ManifestSource(str(tmp_path / "*.jsonl"), column="text").list_shards()
    (tmp_path / "m.txt").write_text("x")
    with pytest.raises(MmfeatError, match="m.txt: cannot tell the manifest format"):
        ManifestSource(str(tmp_path / "m.txt"), column="text").list_shards()
