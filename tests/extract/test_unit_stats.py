"""Units' stats are written in batches, and a unit run twice (a retried bundle) is counted once."""
import json

from mmfeat.beam.extract_job import extract
from mmfeat.extract.unit_stats import UnitStatsBatch, batch_dir, read_unit_stats
from mmfeat.store import FeatureStore
from tests.conftest import sentences, write_jsonl


def now(fn, *args):
    fn(*args)


def stats(bucket, slot, n_input, **more):
    return {"bucket": bucket, "slot": slot, "n_input": n_input, **more}


def test_a_batch_is_written_when_due_or_flushed_and_never_before(tmp_path):
    batch = UnitStatsBatch(tmp_path, now, flush_seconds=3600)
    batch.add(stats(0, 0, 5))
    batch.add(stats(0, 1, 7))
    assert not batch_dir(tmp_path).exists()
    batch.flush()
    batch.flush()  # nothing new: no empty file
    [written] = batch_dir(tmp_path).glob("*.json")
    assert [u["n_input"] for u in json.loads(written.read_text())["units"]] == [5, 7]

    every_unit = UnitStatsBatch(tmp_path, now, flush_seconds=0)
    every_unit.add(stats(1, 0, 1))
    every_unit.add(stats(1, 1, 1))
    assert len(list(batch_dir(tmp_path).glob("*.json"))) == 3
    assert sorted(read_unit_stats(tmp_path)) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_a_unit_reported_twice_counts_once_with_its_last_record(tmp_path):
    first, retry = (UnitStatsBatch(tmp_path, now) for _ in range(2))
    first.add(stats(2, 0, 10, n_ok=10))
    retry.add(stats(2, 0, 10, n_ok=0, n_skipped=10))  # the retried bundle found the rows stored
    assert read_unit_stats(tmp_path)[(2, 0)]["n_skipped"] == 10


def test_a_reader_with_a_cache_reads_each_batch_once(tmp_path):
    batch = UnitStatsBatch(tmp_path, now)
    batch.add(stats(0, 0, 3))
    cache = {}
    assert read_unit_stats(tmp_path, cache)[(0, 0)]["n_input"] == 3
    [written] = batch_dir(tmp_path).glob("*.json")
    written.write_text("not json")  # batches never change: a cached one is not read again
    batch.add(stats(0, 1, 4))
    assert {k: v["n_input"] for k, v in read_unit_stats(tmp_path, cache).items()} == {(0, 0): 3, (0, 1): 4}


def test_on_s3_a_worker_writes_far_fewer_stats_files_than_it_finishes_units(tmp_path, s3, tiny_spec):
    report = extract(tiny_spec, s3, str(write_jsonl(tmp_path / "m.jsonl", sentences(40))), n_buckets=4, n_slots=4)
    assert report["units_processed"] == 14 and report["n_input"] == report["n_ok"] == 40  # 2 units got no row
    run_dir = FeatureStore(s3).set_dir("tiny_text") / "_runs" / report["run_id"]
    assert len(list(batch_dir(run_dir).glob("*.json"))) < 4
