"""Work units end to end: bounded chunks, exact duplicates, partial rewrites, rebased commits."""
import json

import numpy as np
import pytest

from mmfeat import FeatureStore
from mmfeat.beam.extract_job import extract
from mmfeat.errors import CommitConflictError
from mmfeat.extract.slot_index import SlotIndex
from mmfeat.extract.unit_commit import ChunkOutcome, UnitWriter
from mmfeat.extract.unit_job import RunContext
from mmfeat.extract.unit_stats import read_unit_stats
from mmfeat.sources import SOURCES
from mmfeat.sources.manifest import ManifestSource
from mmfeat.spec import FeatureSpec, load_spec
from mmfeat.store import feature_set
from mmfeat.store.bucket_log import BucketLog
from tests.conftest import sentences, write_jsonl


@SOURCES.register("fetch-logging-manifest")
class FetchLoggingManifest(ManifestSource):
    """A manifest source that appends the size of every fetch to a file next to the manifest."""

    def fetch(self, shard, refs):
        with open(f"{shard}.fetches", "a") as f:
            f.write(f"{len(refs)}\n")
        yield from super().fetch(shard, refs)


def live_ids(store, name="tiny_text"):
    ids = store.read(name)["id"].to_pylist()
    assert len(ids) == len(set(ids)), "an id is stored twice"
    return set(ids)


def test_a_unit_reads_and_commits_its_rows_in_bounded_chunks(tmp_path, tiny_spec):
    manifest = write_jsonl(tmp_path / "m.jsonl", sentences(120))
    report = extract(tiny_spec, tmp_path / "store", str(manifest), n_buckets=2, n_slots=2, chunk_rows=8,
                     source="fetch-logging-manifest")
    fetches = [int(n) for n in (tmp_path / "m.jsonl.fetches").read_text().split()]
    assert max(fetches) <= 8 and sum(fetches) == 120
    assert report["units_processed"] == 4 and report["n_commits"] >= 120 // 8
    assert (report["n_ok"], report["n_error"]) == (120, 0)
    assert live_ids(FeatureStore(tmp_path / "store")) == {r["id"] for r in sentences(120)}


def test_copies_of_an_id_far_apart_in_the_input_are_resolved_exactly(tmp_path, tiny_spec):
    rows = sentences(60)
    rows.insert(1, {"id": "twin", "text": "first version"})
    rows.insert(2, {"id": "same", "text": "one text"})
    rows += [{"id": "twin", "text": "second version"}, {"id": "same", "text": "one text"}]
    report = extract(tiny_spec, tmp_path / "store", str(write_jsonl(tmp_path / "m.jsonl", rows)), n_buckets=1,
                     n_slots=1, chunk_rows=4)
    assert (report["n_ok"], report["n_error"], report["n_skipped"]) == (61, 2, 1)
    store = FeatureStore(tmp_path / "store")
    assert "twin" not in live_ids(store) and "same" in live_ids(store)
    assert [e["stage"] for e in store.errors("tiny_text").to_pylist()] == ["dedup", "dedup"]


def test_a_changed_row_rewrites_only_the_part_that_holds_it(tmp_path, tiny_spec):
    rows = sentences(40)
    extract(tiny_spec, tmp_path / "store", str(write_jsonl(tmp_path / "a.jsonl", rows)), n_buckets=1, n_slots=1,
            chunk_rows=10)
    store = FeatureStore(tmp_path / "store")
    before = {e["path"]: e for e in store.bucket_state("tiny_text", 0).files("data")}
    assert len(before) == 4
    rows[25] = {"id": rows[25]["id"], "text": "a completely new sentence about rivers"}
    report = extract(tiny_spec, tmp_path / "store", str(write_jsonl(tmp_path / "b.jsonl", rows)), n_buckets=1,
                     n_slots=1, chunk_rows=10)
    after = {e["path"]: e for e in store.bucket_state("tiny_text", 0).files("data")}
    assert report["n_encoded"] == 1 and len(set(before) - set(after)) == 1
    assert len(set(before) & set(after)) == 3  # three parts untouched
    assert live_ids(store) == {r["id"] for r in rows}


def _pixels_set(tmp_path):
    spec = FeatureSpec.from_dict({"name": "px", "modality": "image", "input": {"column": "image"},
                                  "encoder": {"kind": "pixels", "size": 2}})
    store = FeatureStore(tmp_path / "store", create=True, n_buckets=1)
    feature_set.ensure(store.set_dir("px"), spec, spec.fingerprint(), {})
    return store, spec


def _outcome(ids, ckeys):
    return ChunkOutcome(list(ids), [(np.full(4, k, np.float32), None) for k in range(len(ids))], list(ckeys))


def test_a_commit_that_loses_the_race_rebases_and_only_real_conflicts_surface(tmp_path):
    store, spec = _pixels_set(tmp_path)
    set_dir = store.set_dir("px")

    def writer(run_id):
        index = SlotIndex(set_dir, 0, 0, 1, 1)
        index.refresh(BucketLog(set_dir, 0).state())
        return UnitWriter(RunContext(str(store.root), spec, spec.fingerprint(), run_id, n_slots=1), 0, 0, 1,
                          set_dir, index)

    a, b = writer("runA"), writer("runB")  # both have read the (empty) log
    real_commit = b.log.commit

    def a_commits_first(*args, **kwargs):  # A wins the race between B's read of the log and B's commit
        if not a.log.state().version:
            a.commit(_outcome(["x", "y"], ["c-x", "c-y"]))
        return real_commit(*args, **kwargs)

    b.log.commit = a_commits_first
    result = b.commit(_outcome(["x", "y", "z"], ["c-x", "c-y-other", "c-z"]))
    assert result.attempts == 2 and result.dropped_same == 1
    assert [(e.id, e.stage) for e in result.conflicts] == [("y", "conflict")]
    table = store.read("px")
    assert sorted(table["id"].to_pylist()) == ["x", "y", "z"]
    assert dict(zip(table["id"].to_pylist(), table["content_key"].to_pylist()))["y"] == "c-y"  # A's row stands
    assert [e["id"] for e in store.errors("px").to_pylist()] == ["y"]


def test_a_writer_that_keeps_losing_gives_up_with_one_clear_error_and_publishes_nothing(tmp_path, monkeypatch):
    store, spec = _pixels_set(tmp_path)
    set_dir = store.set_dir("px")
    index = SlotIndex(set_dir, 0, 0, 1, 1)
    w = UnitWriter(RunContext(str(store.root), spec, spec.fingerprint(), "runC", n_slots=1), 0, 0, 1, set_dir, index)
    monkeypatch.setattr("mmfeat.extract.unit_commit.MAX_ATTEMPTS", 3)
    monkeypatch.setattr("mmfeat.extract.unit_commit.time.sleep", lambda s: None)

    def always_lose(*args, **kwargs):
        raise CommitConflictError("someone else won")

    w.log.commit = always_lose
    with pytest.raises(CommitConflictError, match="3 commit attempts"):
        w.commit(_outcome(["q"], ["c-q"]))
    assert not [p for p in (set_dir / "data").rglob("*") if p.is_file()]


def test_unchanged_bad_rows_are_not_retried_and_load_no_model(tmp_path, tiny_spec):
    rows = sentences(30) + [{"id": "long", "text": "word " * 200}]  # over max_length: fails in preprocess
    manifest = str(write_jsonl(tmp_path / "m.jsonl", rows))
    first = extract(tiny_spec, tmp_path / "store", manifest)
    again = extract(tiny_spec, tmp_path / "store", manifest)
    forced = extract(tiny_spec, tmp_path / "store", manifest, retry_errors=True)
    assert first["n_error"] == again["n_error"] == forced["n_error"] == 1
    assert "load" not in again["unit_seconds"] and again["n_commits"] == 0
    assert "load" in forced["unit_seconds"]
    [error] = FeatureStore(tmp_path / "store").errors("tiny_text").to_pylist()
    assert error["id"] == "long" and error["stage"] == "preprocess"


def test_unit_stats_name_the_worker_and_the_report_needs_no_metrics(tmp_path, tiny_spec):
    report = extract(tiny_spec, tmp_path / "store", str(write_jsonl(tmp_path / "m.jsonl", sentences(20))))
    set_dir = FeatureStore(tmp_path / "store").set_dir("tiny_text")
    stats = list(read_unit_stats(set_dir / "_runs" / report["run_id"]).values())
    assert sum(s["n_input"] for s in stats) == 20 and all(s["pid"] and s["host"] for s in stats)
    assert report["rows_read"] == 20 and report["status"] == "ok"
    assert sum(report["encoded_by_worker"].values()) == 20
    assert json.loads((set_dir / "runs" / f"{report['run_id']}.json").read_text())["status"] == "ok"


def test_load_spec_roundtrip_for_units(tiny_spec):
    assert load_spec(tiny_spec).name == "tiny_text"
