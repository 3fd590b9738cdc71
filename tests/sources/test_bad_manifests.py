"""Hostile manifests: every row comes back as a Record or an ErrorRow at its line; nothing crashes."""

import pytest

from mmfeat.errors import MmfeatError
from mmfeat.records import ErrorRow, Record
from mmfeat.sources.line_formats import MAX_FIELD_CHARS
from mmfeat.sources.manifest import ManifestSource


def read_all(path, **kw):
    source = ManifestSource(str(path), column=kw.pop("column", "text"), **kw)
    return [row for shard in source.list_shards() for row in source.read_shard(shard)]


def kinds(rows):
    return [(type(r).__name__, r.line) for r in rows]


def test_jsonl_latin1_byte_on_line_501_costs_one_row(tmp_path):
    lines = [f'{{"id": "r{i}", "text": "row {i}"}}\n'.encode() for i in range(1, 1001)]
    lines[500] = '{"id": "r501", "text": "caf\xe9"}\n'.encode("latin-1")
    (tmp_path / "m.jsonl").write_bytes(b"".join(lines))
    rows = read_all(tmp_path / "m.jsonl")
    errors = [r for r in rows if isinstance(r, ErrorRow)]
    assert len(rows) == 1000 and len(errors) == 1
    assert (errors[0].line, errors[0].stage) == (501, "read") and "not valid utf-8" in errors[0].reason
    assert [r.line for r in rows] == list(range(1, 1001))


def test_jsonl_invalid_last_line_keeps_the_good_lines(tmp_path):
    good = b"".join(f'{{"id": {i}, "text": "t"}}\n'.encode() for i in range(5))
    (tmp_path / "m.jsonl").write_bytes(good + b'{"id": 9, "text": "\xff"}\n')
    assert kinds(read_all(tmp_path / "m.jsonl")) == [("Record", i) for i in range(1, 6)] + [("ErrorRow", 6)]


def test_bom_is_accepted_in_jsonl_and_csv(tmp_path):
    (tmp_path / "m.jsonl").write_bytes(b'\xef\xbb\xbf{"id": "a", "text": "x"}\n')
    (tmp_path / "m.csv").write_bytes(b"\xef\xbb\xbfid,text\r\na,x\r\nb,y\r\n")
    assert read_all(tmp_path / "m.jsonl")[0][:2] == ("a", "x")
    assert [r[:4] for r in read_all(tmp_path / "m.csv")] == [("a", "x", str(tmp_path / "m.csv"), 2),
                                                              ("b", "y", str(tmp_path / "m.csv"), 3)]


def test_lone_surrogates_in_ids_and_texts_are_error_rows(tmp_path):
    (tmp_path / "m.jsonl").write_text('{"id": "a", "text": "a\\ud800b"}\n{"id": "b\\udfff", "text": "x"}\n'
                                      '{"id": "c", "text": "fine"}\n')
    rows = read_all(tmp_path / "m.jsonl")
    assert [(type(r).__name__, getattr(r, "stage", None)) for r in rows] == [
        ("ErrorRow", "validate"), ("ErrorRow", "read"), ("Record", None)]
    assert "surrogate" in rows[0].reason and "surrogate" in rows[1].reason
    rows[1].id.encode("utf-8")  # the stand-in id of a bad id is encodable (it is hashed into a bucket)


def test_ids_with_control_characters_are_refused_slashes_accepted(tmp_path):
    (tmp_path / "m.jsonl").write_text('{"id": "a\\nb", "text": "x"}\n{"id": "a\\u0000", "text": "x"}\n'
                                      '{"id": "dir/sub/a", "text": "x"}\n{"id": true, "text": "x"}\n')
    rows = read_all(tmp_path / "m.jsonl")
    assert kinds(rows) == [("ErrorRow", 1), ("ErrorRow", 2), ("Record", 3), ("ErrorRow", 4)]
    assert "control character" in rows[0].reason and rows[2].id == "dir/sub/a"


def test_csv_invalid_utf8_is_one_error_row_not_replacement_characters(tmp_path):
    (tmp_path / "m.csv").write_bytes(b"id,text\na,caf\xe9\nb,ok\n")
    rows = read_all(tmp_path / "m.csv")
    assert kinds(rows) == [("ErrorRow", 2), ("Record", 3)] and "not valid utf-8" in rows[0].reason


def test_csv_encoding_option_reads_latin1(tmp_path):
    (tmp_path / "m.csv").write_bytes(b"id,text\na,caf\xe9\n")
    assert read_all(tmp_path / "m.csv", encoding="latin-1")[0].value == "café"
    with pytest.raises(MmfeatError, match="not ASCII-compatible"):
        ManifestSource(str(tmp_path / "m.csv"), column="text", encoding="utf-16")


def test_csv_unterminated_quote_is_reported_and_the_swallowed_rows_are_read(tmp_path):
    body = 'id,text\na,one\nb,"two\nc,three\nd,four\ne,five\nf,six\ng,"seven"\nh,eight\n'
    (tmp_path / "m.csv").write_text(body)
    rows = read_all(tmp_path / "m.csv")
    assert kinds(rows) == [("Record", 2), ("ErrorRow", 3), ("Record", 4), ("Record", 5), ("Record", 6),
                           ("Record", 7), ("Record", 8), ("Record", 9)]
    assert "unterminated or stray quote" in rows[1].reason
    assert [r.id for r in rows if isinstance(r, Record)] == ["a", "c", "d", "e", "f", "g", "h"]


def test_csv_unterminated_quote_to_the_end_of_the_file(tmp_path):
    (tmp_path / "m.csv").write_text('id,text\na,"one\nb,two\nc,three\n')
    rows = read_all(tmp_path / "m.csv")
    assert kinds(rows) == [("ErrorRow", 2), ("Record", 3), ("Record", 4)]


def test_csv_huge_field_is_an_error_row_not_a_crash(tmp_path):
    big = "x" * (MAX_FIELD_CHARS + 10)
    (tmp_path / "m.csv").write_text(f"id,text\na,{big}\nb,\"{big}\"\nc,fine\n")
    rows = read_all(tmp_path / "m.csv")
    assert kinds(rows) == [("ErrorRow", 2), ("ErrorRow", 3), ("Record", 4)]
    assert "CSV field limit" in rows[0].reason and "CSV field limit" in rows[1].reason


def test_csv_wrong_field_counts_and_empty_fields(tmp_path):
    (tmp_path / "m.csv").write_text("id,text\na\nb,x,y\n,\nc,z\n\n")
    rows = read_all(tmp_path / "m.csv")
    assert kinds(rows) == [("ErrorRow", 2), ("ErrorRow", 3), ("ErrorRow", 4), ("Record", 5)]


@pytest.mark.parametrize("name,content", [("e.csv", b""), ("h.csv", b"id,text\n"), ("e.jsonl", b""),
                                          ("h.csv", b"id,text"), ("b.jsonl", b"\n\n")])
def test_empty_and_header_only_files_give_no_rows(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    assert read_all(tmp_path / name) == []


def test_empty_parquet_gives_no_rows(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())}),
                   tmp_path / "m.parquet")
    assert read_all(tmp_path / "m.parquet") == []


def test_truncated_parquet_is_a_job_error_naming_the_file(tmp_path):
    import pandas as pd

    pd.DataFrame({"id": [str(i) for i in range(100)], "text": ["x"] * 100}).to_parquet(tmp_path / "m.parquet")
    data = (tmp_path / "m.parquet").read_bytes()
    (tmp_path / "m.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(MmfeatError, match=r"m.parquet: not a readable Parquet file"):
        read_all(tmp_path / "m.parquet")


def test_parquet_wrong_column_types_are_row_errors(tmp_path):
    import pandas as pd

    pd.DataFrame({"id": [1.5, 2.0], "text": [1, 2]}).to_parquet(tmp_path / "m.parquet")
    rows = read_all(tmp_path / "m.parquet")
    assert kinds(rows) == [("ErrorRow", 1), ("ErrorRow", 2)] and "string or integer" in rows[0].reason
    pd.DataFrame({"id": ["a"], "text": [7]}).to_parquet(tmp_path / "n.parquet")
    assert read_all(tmp_path / "n.parquet")[0].value == 7  # the encoder's validate refuses it


def test_record_over_the_cap_and_deep_json_are_error_rows(tmp_path):
    from mmfeat.sources.framing import MAX_RECORD_BYTES

    (tmp_path / "m.csv").write_bytes(b'id,text\na,"' + (b"x" * 1023 + b"\n") * (MAX_RECORD_BYTES // 1024 + 10))
    rows = read_all(tmp_path / "m.csv")
    assert kinds(rows) == [("ErrorRow", 2)] and "larger than" in rows[0].reason
    (tmp_path / "m.jsonl").write_text("[" * 100_000 + "\n" + '{"id": "b", "text": "ok"}\n')
    rows = read_all(tmp_path / "m.jsonl")
    assert kinds(rows) == [("ErrorRow", 1), ("Record", 2)] and "nested too deeply" in rows[0].reason


def test_a_corrupt_parquet_row_group_is_an_error_row_and_the_others_are_read(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = [f"text {i} " + "y" * (i % 50) for i in range(300)]
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(300)], "text": texts}), tmp_path / "m.parquet",
                   row_group_size=100, compression="snappy", use_dictionary=False)
    meta = pq.ParquetFile(tmp_path / "m.parquet").metadata
    column = meta.row_group(1).column(1)
    data = bytearray((tmp_path / "m.parquet").read_bytes())
    middle = column.data_page_offset + column.total_compressed_size // 2
    data[middle:middle + 64] = bytes(64)
    (tmp_path / "m.parquet").write_bytes(bytes(data))
    rows = read_all(tmp_path / "m.parquet")
    errors = [r for r in rows if isinstance(r, ErrorRow)]
    assert len(errors) == 1 and "row group 1" in errors[0].reason and errors[0].line == 101
    assert [r.line for r in rows if isinstance(r, Record)] == list(range(1, 101)) + list(range(201, 301))


def test_bare_carriage_returns_are_named(tmp_path):
    (tmp_path / "m.csv").write_bytes(b"id,text\na,one\rb,two\nc,three\n")
    rows = read_all(tmp_path / "m.csv")
    assert kinds(rows) == [("ErrorRow", 2), ("Record", 3)] and "bare carriage return" in rows[0].reason


def test_lines_longer_than_one_read_are_whole_records(tmp_path):
    long_text = "z" * (3 * 1024 * 1024)
    (tmp_path / "m.jsonl").write_text(f'{{"id": "a", "text": "{long_text}"}}\n{{"id": "b", "text": "x"}}\n')
    rows = read_all(tmp_path / "m.jsonl")
    assert [(r.id, len(r.value), r.line) for r in rows] == [("a", len(long_text), 1), ("b", 1, 2)]
    (tmp_path / "m.csv").write_text(f'id,text\na,"{"q" * 100_000}"\nb,x\n')
    assert [(r.id, r.line) for r in read_all(tmp_path / "m.csv")] == [("a", 2), ("b", 3)]
