"""The store: checksums, atomic commits, concurrent writers, interop, joins."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mmfeat import FeatureStore
from mmfeat.beam.extract_job import extract
from mmfeat.errors import ChecksumError, StoreError
from tests.conftest import sentences, write_jsonl, write_spec


@pytest.fixture
def filled(tmp_path, tiny_spec):
    extract(tiny_spec, tmp_path / "store", str(write_jsonl(tmp_path / "m.jsonl", sentences(64))))
    return FeatureStore(tmp_path / "store")


def test_opening_a_missing_store_names_the_path(tmp_path):
    with pytest.raises(StoreError, match="no feature store"):
        FeatureStore(tmp_path / "nowhere")


def test_bucket_count_is_fixed_at_creation(tmp_path):
    FeatureStore(tmp_path, create=True, n_buckets=8)
    with pytest.raises(StoreError, match="8 buckets"):
        FeatureStore(tmp_path, n_buckets=16)


def test_damaged_file_is_named_on_read_and_repair_lets_a_rerun_recompute(filled, tmp_path, tiny_spec):
    entry = next(e for s in filled.states("tiny_text") for e in s.files("data"))
    path = filled.set_dir("tiny_text") / entry["path"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    with pytest.raises(ChecksumError, match=entry["path"].split("/")[-1]):
        filled.read("tiny_text")
    assert filled.verify("tiny_text") == [(entry["path"], "checksum mismatch")]
    assert filled.repair("tiny_text") == [entry["path"]]
    assert filled.read("tiny_text").num_rows == 64 - entry["rows"]
    report = extract(tiny_spec, tmp_path / "store", str(tmp_path / "m.jsonl"))
    assert report["n_encoded"] == entry["rows"]
    assert sorted(filled.read("tiny_text")["id"].to_pylist()) == sorted(r["id"] for r in sentences(64))


def test_hidden_temp_files_are_invisible_to_readers(filled):
    import pandas as pd

    bucket = filled.set_dir("tiny_text") / "data" / "bucket=00000"
    bucket.mkdir(parents=True, exist_ok=True)
    (bucket / ".tmp-crashed-part.parquet").write_bytes(b"PAR1 half written")
    assert filled.read("tiny_text").num_rows == 64
    assert len(pd.read_parquet(filled.set_dir("tiny_text") / "data")) == 64


def test_files_open_without_mmfeat_in_pyarrow_pandas_and_duckdb(filled):
    script = textwrap.dedent(f"""
        import sys, duckdb, pandas as pd, pyarrow.dataset as ds
        root = {str(filled.set_dir('tiny_text'))!r}
        t = ds.dataset(root + "/data", format="parquet", partitioning="hive").to_table()
        df = pd.read_parquet(root + "/data")
        n, dim = duckdb.sql(f"select count(*), max(len(embedding)) from '{{root}}/data/*/*.parquet'").fetchall()[0]
        assert "mmfeat" not in sys.modules
        print(t.num_rows, len(df), n, dim, t.schema.field("embedding").type)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out[:4] == ["64", "64", "64", "32"] and out[4].startswith("fixed_size_list")


def test_join_by_id_inner_and_outer(tmp_path, tiny_bert):
    store_dir = tmp_path / "store"
    extract(write_spec(tmp_path / "a.yaml", tiny_bert, name="a"), store_dir,
            str(write_jsonl(tmp_path / "a.jsonl", sentences(30))))
    extract(write_spec(tmp_path / "b.yaml", tiny_bert, name="b", pooling="cls"), store_dir,
            str(write_jsonl(tmp_path / "b.jsonl", sentences(30, offset=20))))
    store = FeatureStore(store_dir)
    inner = store.join(["a", "b"])
    assert sorted(inner["id"].to_pylist()) == sorted(f"s{k}" for k in range(20, 30))
    outer = store.join(["a", "b"], how="outer")
    assert outer.num_rows == 50
    assert outer["b"].null_count == 20 and outer["a"].null_count == 20
    a_ids, a_vecs = store.to_numpy("a")
    row = inner.to_pylist()[0]
    assert np.allclose(row["a"], a_vecs[list(a_ids).index(row["id"])])


def test_vacuum_removes_uncommitted_parts_of_a_crashed_writer_but_not_live_ones(filled):
    import os

    set_dir = filled.set_dir("tiny_text")
    live = next(e for s in filled.states("tiny_text") for e in s.files("data"))
    orphan = set_dir / live["path"].rsplit("/", 1)[0] / ".part-crashed-00000009.parquet.staged"
    young = orphan.with_name(".part-crashed-00000010.parquet.staged")
    for path in (orphan, young):
        path.write_bytes((set_dir / live["path"]).read_bytes())
    os.utime(orphan, (1, 1))
    assert filled.vacuum("tiny_text") == [orphan.relative_to(set_dir).as_posix()]
    assert not orphan.exists() and young.exists() and filled.read("tiny_text").num_rows == 64


def test_runs_are_listed_by_start_time_even_within_one_second(tmp_path):
    # Run ids order only to the second (time + random suffix): two runs started in one second must still
    # come back oldest first, as `show` and the "latest run" readers assume.
    from mmfeat.store.files import replace_json

    store = FeatureStore(tmp_path / "store", create=True, n_buckets=2)
    runs = store.set_dir("s") / "runs"
    replace_json(runs / "20261129T111611Z-ffffffff.json", {"run_id": "20261129T111611Z-ffffffff",
                                                          "started_at": 1.0, "status": "failed"})
    replace_json(runs / "20261129T111611Z-00000000.json", {"run_id": "20261129T111611Z-00000000",
                                                          "started_at": 1.5, "status": "ok"})
    assert [r["status"] for r in store.runs("s")] == ["failed", "ok"]
