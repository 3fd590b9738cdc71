"""Splitting manifests into byte-range / row-group shards, and re-reading rows by ref."""
import pickle

import pytest

from mmfeat.records import ErrorRow, Record
from mmfeat.sources.manifest import ManifestSource
from mmfeat.sources.shards import FileShard


def read(source):
    shards = source.list_shards()
    return shards, [row for shard in shards for row in source.read_shard(shard)]


def strip_refs(rows):
    return [r[:4] if isinstance(r, Record) else r for r in rows]


def csv_body():
    rows = ["id,text"]
    for i in range(200):
        text = f'"multi\r\nline, ""quoted"" {i}"' if i % 7 == 0 else f"plain {i}"
        rows.append(f"r{i},{text}" if i % 13 else f"r{i},{text},extra")
    return ("\r\n".join(rows) + "\r\n").encode()


def jsonl_body():
    lines = [f'{{"id": "r{i}", "text": "t {i}"}}' if i % 11 else "{bad json" for i in range(300)]
    lines[40] = ""  # a blank line
    return ("\n".join(lines) + "\n").encode() + b'{"id": "last", "text": "\xff"}'


@pytest.mark.parametrize("name,body", [("m.csv", csv_body()), ("m.jsonl", jsonl_body())])
def test_tiny_shards_give_exactly_the_rows_of_one_shard(tmp_path, name, body):
    (tmp_path / name).write_bytes(body)
    one_shards, whole = read(ManifestSource(str(tmp_path / name), column="text"))
    many_shards, split = read(ManifestSource(str(tmp_path / name), column="text", shard_bytes=97))
    assert len(one_shards) == 1 and len(many_shards) > 20
    assert strip_refs(split) == strip_refs(whole)
    assert any(isinstance(r, ErrorRow) for r in whole) and sum(isinstance(r, Record) for r in whole) > 150
    shard = many_shards[3]
    assert pickle.loads(pickle.dumps(shard)) == shard and str(shard).startswith(str(tmp_path / name) + "[")
    assert all(r.source == str(tmp_path / name) for r in split)


def test_csv_multiline_records_keep_their_first_line(tmp_path):
    (tmp_path / "m.csv").write_bytes(csv_body())
    _, rows = read(ManifestSource(str(tmp_path / "m.csv"), column="text", shard_bytes=50))
    assert isinstance(rows[0], ErrorRow) and rows[0].line == 2  # r0 has an extra field
    assert rows[1].line == 4  # r1 follows r0's two lines
    r7 = next(r for r in rows if r.id == "r7")
    assert (r7.line, r7.value) == (10, "multi\r\nline, \"quoted\" 7")


@pytest.mark.parametrize("name,body", [("m.csv", csv_body()), ("m.jsonl", jsonl_body())])
def test_fetch_by_refs_round_trips(tmp_path, name, body):
    (tmp_path / name).write_bytes(body)
    source = ManifestSource(str(tmp_path / name), column="text", shard_bytes=300)
    for shard in source.list_shards():
        records = [r for r in source.read_shard(shard) if isinstance(r, Record) and r.ref is not None]
        picked = records[::2]
        assert list(source.fetch(shard, [r.ref for r in picked])) == picked


def test_parquet_split_by_row_groups_and_fetch(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = [f"r{i}" if i % 9 else None for i in range(1000)]
    pq.write_table(pa.table({"id": ids, "text": [f"t{i}" for i in range(1000)]}), tmp_path / "m.parquet",
                   row_group_size=64)
    _, whole = read(ManifestSource(str(tmp_path / "m.parquet"), column="text"))
    shards, split = read(ManifestSource(str(tmp_path / "m.parquet"), column="text", shard_bytes=1))
    assert len(shards) == 16 and all(isinstance(s, FileShard) for s in shards)
    assert split == whole and [r.line for r in whole] == list(range(1, 1001))
    source = ManifestSource(str(tmp_path / "m.parquet"), column="text", shard_bytes=1)
    wanted = [r for r in split if isinstance(r, Record)][5::37]
    by_shard = {}
    for shard in shards:
        refs = [r.ref for r in source.read_shard(shard) if isinstance(r, Record)]
        by_shard[shard] = [r for r in wanted if r.ref in set(refs)]
    got = [row for shard, rows in by_shard.items() for row in source.fetch(shard, [r.ref for r in rows])]
    assert got == wanted


def test_compressed_manifests_read_like_plain_ones(tmp_path):
    import bz2
    import gzip
    import lzma

    body = jsonl_body()
    (tmp_path / "m.jsonl").write_bytes(body)
    _, plain = read(ManifestSource(str(tmp_path / "m.jsonl"), column="text"))
    import zstandard

    for suffix, compress in ((".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress),
                             (".zst", zstandard.ZstdCompressor().compress)):
        path = tmp_path / f"c.jsonl{suffix}"
        path.write_bytes(compress(body))
        source = ManifestSource(str(path), column="text", shard_bytes=100)
        shards, rows = read(source)
        assert len(shards) == 1
        assert [(type(r), r.line, r[1]) for r in rows] == [(type(r), r.line, r[1]) for r in plain]
        picked = [r for r in rows if isinstance(r, Record)][::5]
        assert list(source.fetch(shards[0], [r.ref for r in picked])) == picked
