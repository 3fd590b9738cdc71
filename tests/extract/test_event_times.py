"""``input.timestamp_column`` end to end: each row's own time is its ``event_timestamp`` in the store."""
import datetime
import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from mmfeat import FeatureStore
from mmfeat.beam.extract_job import extract

UTC = datetime.timezone.utc
BASE = datetime.datetime(2024, 5, 1, 12, tzinfo=UTC)


def timed_spec(tmp_path, tiny_spec, column="ts"):
    path = tmp_path / "timed.yaml"
    path.write_text(tiny_spec.read_text().replace("column: text", f"column: text\n  timestamp_column: {column}"))
    return path


def stored_times(store_root, name="tiny_text") -> dict:
    table = FeatureStore(store_root).read(name, columns=["id", "event_timestamp"])
    return dict(zip(table["id"].to_pylist(), table["event_timestamp"].to_pylist()))


def cli_extract(store_root, spec, *inputs):
    run = subprocess.run([sys.executable, "-m", "mmfeat.cli", "extract", "--store", str(store_root), "--feature",
                          str(spec), *[a for i in inputs for a in ("--input", str(i))]],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.slow
def test_csv_and_parquet_times_become_event_timestamps_through_the_cli(tmp_path, tiny_spec):
    csv_times = {f"c{i}": BASE + datetime.timedelta(hours=i, microseconds=i) for i in range(20)}
    lines = [f"{id_},csv text {id_},{t.isoformat()}" for id_, t in csv_times.items()]
    lines[3] = "c3,csv text c3,1714575600"  # epoch seconds: 2024-05-01T15:00:00Z
    csv_times["c3"] = datetime.datetime(2024, 5, 1, 15, tzinfo=UTC)
    lines[5] = "c5,csv text c5,2024-05-01 14:00:00"  # no offset: UTC
    csv_times["c5"] = datetime.datetime(2024, 5, 1, 14, tzinfo=UTC)
    lines[7] = "c7,csv text c7,2024-02-30T00:00:00Z"  # no such day: an error row, line 9 of the file
    del csv_times["c7"]
    (tmp_path / "m.csv").write_text("id,text,ts\n" + "\n".join(lines) + "\n")
    pq_times = {f"p{i}": BASE - datetime.timedelta(days=i, microseconds=i) for i in range(20)}
    paris = pa.array(list(pq_times.values()), pa.timestamp("us", tz="UTC")).cast(pa.timestamp("ns", tz="Europe/Paris"))
    pq.write_table(pa.table({"id": list(pq_times), "text": [f"parquet text {i}" for i in pq_times], "ts": paris}),
                   tmp_path / "m.parquet", row_group_size=7)

    store_root = tmp_path / "store"
    report = cli_extract(store_root, timed_spec(tmp_path, tiny_spec), tmp_path / "m.csv", tmp_path / "m.parquet")
    assert (report["n_input"], report["n_ok"], report["n_error"]) == (40, 39, 1)
    assert stored_times(store_root) == {**csv_times, **pq_times}
    [bad] = FeatureStore(store_root).errors("tiny_text").to_pylist()
    assert (bad["id"], bad["stage"], bad["line"]) == ("c7", "validate", 9)
    assert "timestamp field 'ts'" in bad["reason"] and "2024-02-30T00:00:00Z" in bad["reason"]
    # What a Feast FileSource reads, without mmfeat: the per-row times, typed as Feast wants them.
    table = ds.dataset(FeatureStore(store_root).set_dir("tiny_text") / "data", format="parquet",
                       partitioning="hive").to_table()
    assert table.schema.field("event_timestamp").type == pa.timestamp("us", tz="UTC")
    assert dict(zip(table["id"].to_pylist(), table["event_timestamp"].to_pylist())) == {**csv_times, **pq_times}


@pytest.mark.slow
def test_a_missing_timestamp_column_fails_the_cli_naming_file_and_column(tmp_path, tiny_spec):
    (tmp_path / "m.csv").write_text("id,text\na,alpha\n")
    run = subprocess.run([sys.executable, "-m", "mmfeat.cli", "extract", "--store", str(tmp_path / "store"),
                          "--feature", str(timed_spec(tmp_path, tiny_spec, "when")), "--input",
                          str(tmp_path / "m.csv")], capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert f"{tmp_path / 'm.csv'}: no timestamp column 'when'" in run.stderr
    assert "Traceback" not in run.stderr


def write_csv(path, times: dict, texts: dict | None = None):
    rows = [f"{id_},{(texts or {}).get(id_, 'text of ' + id_)},{t}" for id_, t in times.items()]
    path.write_text("id,text,ts\n" + "\n".join(rows) + "\n")
    return path


def test_a_corrected_time_replaces_the_row_and_copies_its_vector(tmp_path, tiny_spec):
    spec, store_root = timed_spec(tmp_path, tiny_spec), tmp_path / "store"
    times = {f"r{i}": 1714564800 + i for i in range(12)}
    extract(spec, store_root, str(write_csv(tmp_path / "m.csv", times)), n_buckets=2, n_slots=1)
    before = FeatureStore(store_root).read("tiny_text")
    vectors = dict(zip(before["id"].to_pylist(), before["embedding"].to_pylist()))

    times["r4"] = 1700000000  # corrected time, same text
    report = extract(spec, store_root, str(write_csv(tmp_path / "m.csv", times)), n_buckets=2, n_slots=1)
    assert (report["n_ok"], report["n_skipped"], report["n_encoded"]) == (1, 11, 0)
    after = FeatureStore(store_root).read("tiny_text")
    assert stored_times(store_root)["r4"] == datetime.datetime.fromtimestamp(1700000000, UTC)
    assert dict(zip(after["id"].to_pylist(), after["embedding"].to_pylist())) == vectors
    assert after.num_rows == 12

    # Turning the option off keeps the vectors too: only the times (now the commit time) are rewritten.
    t0 = datetime.datetime.now(UTC)
    report = extract(tiny_spec, store_root, str(tmp_path / "m.csv"), n_buckets=2, n_slots=1)
    assert (report["n_ok"], report["n_encoded"]) == (12, 0)
    assert all(t >= t0.replace(microsecond=0) for t in stored_times(store_root).values())


def test_same_text_at_two_times_is_encoded_once_but_one_id_at_two_times_is_ambiguous(tmp_path, tiny_spec):
    (tmp_path / "m.csv").write_text("id,text,ts\na,one text,2024-05-01T00:00:00Z\nb,one text,2024-06-01\n"
                                    "c,other,2024-05-01\nc,other,2024-05-02\n")
    report = extract(timed_spec(tmp_path, tiny_spec), tmp_path / "store", str(tmp_path / "m.csv"), n_buckets=1,
                     n_slots=1)
    assert (report["n_ok"], report["n_encoded"], report["n_error"]) == (2, 1, 2)
    assert stored_times(tmp_path / "store") == {"a": datetime.datetime(2024, 5, 1, tzinfo=UTC),
                                                "b": datetime.datetime(2024, 6, 1, tzinfo=UTC)}
    errors = FeatureStore(tmp_path / "store").errors("tiny_text").to_pylist()
    assert [(e["id"], e["stage"], e["line"]) for e in errors] == [("c", "dedup", 4), ("c", "dedup", 5)]


def test_the_dry_run_sees_a_changed_time_as_a_change(tmp_path, tiny_spec):
    from types import SimpleNamespace

    from mmfeat.jobs.plan import plan_extract
    from mmfeat.spec import load_spec

    spec, store_root = timed_spec(tmp_path, tiny_spec), tmp_path / "store"
    times = {f"r{i}": 1714564800 + i for i in range(5)}
    extract(spec, store_root, str(write_csv(tmp_path / "m.csv", times)), n_buckets=1, n_slots=1)
    step = SimpleNamespace(inputs=[str(tmp_path / "m.csv")], source=None, id_column=None, retry_errors=False)
    assert plan_extract(step, load_spec(spec), store_root)["stored"] == 5
    times["r0"], times["r1"] = 1, "soon"
    write_csv(tmp_path / "m.csv", times)
    plan = plan_extract(step, load_spec(spec), store_root)
    assert (plan["stored"], plan["changed"], plan["bad"]) == (3, 1, 1)
