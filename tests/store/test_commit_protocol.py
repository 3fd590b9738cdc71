"""The commit protocol on real files: staged parts, publish by commit, trash instead of unlink, the
hash chain, conflicts, and what a reader holding an older log state still finds."""
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mmfeat import FeatureStore
from mmfeat.cli import main
from mmfeat.errors import CommitConflictError, StoreError
from mmfeat.records import ErrorRow
from mmfeat.store import bucket_log, orphans
from mmfeat.store.bucket_log import BucketLog, buckets_with_log
from mmfeat.store.layout import bucket_dir
from mmfeat.store.lifecycle import staged_path, trash_path
from mmfeat.store.log_records import record_hash
from mmfeat.store.parts import data_table, discard, errors_table, read_part, write_part
from tests.store_factory import put


@pytest.fixture
def store(tmp_path):
    store = FeatureStore(tmp_path / "store", create=True, n_buckets=1)
    put(store, "s", [f"id{k}" for k in range(10)], np.ones((10, 4), np.float32))
    return store


def _part(store, name, ids, tag):
    set_dir = store.set_dir(name)
    table = data_table(ids, np.full((len(ids), 4), 2.0, np.float32), [f"ck-{i}" for i in ids])
    return write_part(table, bucket_dir(set_dir, "data", 0) / f"part-{tag}.parquet", "data", set_dir)


def _directory_ids(set_dir):
    import duckdb
    import pandas as pd

    return (sorted(pd.read_parquet(set_dir / "data")["id"]),
            sorted(i for (i,) in duckdb.sql(f"select id from '{set_dir}/data/*/*.parquet'").fetchall()))


def test_a_part_is_hidden_until_its_commit_publishes_it(store):
    set_dir, log = store.set_dir("s"), BucketLog(store.set_dir("s"), 0)
    entry = _part(store, "s", ["new1", "new2"], "staged")
    final = set_dir / entry["path"]
    assert not final.exists() and staged_path(final).exists()
    assert _directory_ids(set_dir)[0] == _directory_ids(set_dir)[1] == sorted(f"id{k}" for k in range(10))
    log.commit(log.state(), add=[entry], remove=[], info={})
    assert final.exists() and not staged_path(final).exists()
    assert _directory_ids(set_dir)[1] == sorted([*(f"id{k}" for k in range(10)), "new1", "new2"])


def test_a_commit_whose_writer_died_before_publishing_is_rolled_forward_by_a_reader(store, monkeypatch):
    set_dir, log = store.set_dir("s"), BucketLog(store.set_dir("s"), 0)
    entry = _part(store, "s", ["new1"], "unpublished")
    monkeypatch.setattr(bucket_log, "publish", lambda *a: None)  # the writer is killed right after the record
    log.commit(log.state(), add=[entry], remove=[], info={})
    monkeypatch.undo()
    assert not (set_dir / entry["path"]).exists()
    assert "new1" in store.read("s")["id"].to_pylist()
    assert (set_dir / entry["path"]).exists() and store.verify("s") == []
    assert "new1" in _directory_ids(set_dir)[1]


def test_replaced_parts_go_to_trash_where_an_older_reader_still_finds_them_until_vacuum(store):
    set_dir, log = store.set_dir("s"), BucketLog(store.set_dir("s"), 0)
    old_state = log.state()
    old = old_state.files("data")[0]
    entry = _part(store, "s", ["only"], "replacement")
    log.commit(old_state, add=[entry], remove=[old["path"]], info={})
    assert not (set_dir / old["path"]).exists() and trash_path(set_dir, old["path"]).exists()
    assert read_part(set_dir, old).num_rows == 10  # a reader that replayed the log before the commit
    assert store.read("s")["id"].to_pylist() == ["only"]
    assert _directory_ids(set_dir) == (["only"], ["only"])
    assert store.vacuum("s") == []  # younger than the minimum age
    os.utime(trash_path(set_dir, old["path"]), (1, 1))
    assert store.vacuum("s") == [f"_trash/{old['path']}"]
    with pytest.raises(StoreError, match="missing"):
        read_part(set_dir, old)


def test_a_lost_commit_publishes_nothing_and_discard_removes_its_staged_files(store):
    set_dir = store.set_dir("s")
    first, second = BucketLog(set_dir, 0), BucketLog(set_dir, 0)
    base = first.state()
    mine, theirs = _part(store, "s", ["a"], "mine"), _part(store, "s", ["b"], "theirs")
    second.commit(second.state(), add=[theirs], remove=[], info={})
    with pytest.raises(CommitConflictError, match="bucket 0"):
        first.commit(base, add=[mine], remove=[], info={})
    discard(set_dir, [mine])
    assert not staged_path(set_dir / mine["path"]).exists() and not (set_dir / mine["path"]).exists()
    state = first.state()  # replays only what it has not seen
    assert state.version == base.version + 1 and theirs["path"] in state.live


def test_a_bucket_assumed_empty_loses_to_the_log_another_writer_created_and_replays(store, tmp_path):
    set_dir = store.set_dir("s")
    assert buckets_with_log(set_dir) == {0} and buckets_with_log(tmp_path / "no-such-set") == frozenset()
    log = BucketLog(set_dir, 0).assume_empty()  # as a unit told "no log yet" by a driver that looked too early
    assumed = log.known_state()
    assert assumed.version == 0 and not assumed.live
    entry = _part(store, "s", ["late"], "late")
    with pytest.raises(CommitConflictError):
        log.commit(assumed, add=[entry], remove=[], info={})
    state = log.state()
    assert state.version == 1 and len(state.files("data")) == 1
    log.commit(state, add=[entry], remove=[], info={})
    assert sorted(store.read("s")["id"].to_pylist()) == sorted([*(f"id{k}" for k in range(10)), "late"])


def test_records_are_hash_chained_and_replay_names_the_first_edited_one(store):
    set_dir, log = store.set_dir("s"), BucketLog(store.set_dir("s"), 0)
    for tag in ("x", "y"):
        log.commit(log.state(), add=[_part(store, "s", [tag], tag)], remove=[], info={"note": tag})
    records = [json.loads((log.dir / f"{v:08d}.json").read_text()) for v in (1, 2, 3)]
    assert [r["prev"] for r in records] == [None, records[0]["hash"], records[1]["hash"]]
    assert all(r["hash"] == record_hash(r) for r in records)
    edited = {**records[1], "note": "changed", "hash": None}
    edited["hash"] = record_hash(edited)  # even a consistent rewrite breaks the chain after it
    (log.dir / "00000002.json").write_text(json.dumps(edited))
    with pytest.raises(StoreError, match="00000003.json: the hash chain is broken"):
        BucketLog(set_dir, 0).state()


def test_logs_written_before_hashes_still_replay(tmp_path):
    set_dir = tmp_path / "legacy"
    table = data_table(["a"], np.ones((1, 4), np.float32), ["ck"]).drop_columns(["event_timestamp"])
    directory = bucket_dir(set_dir, "data", 0)
    directory.mkdir(parents=True)
    pq.write_table(table, directory / "part-old.parquet")
    from mmfeat.hashing import sha256_file

    entry = {"path": "data/bucket=00000/part-old.parquet", "kind": "data", "rows": 1, "bytes": 1,
             "sha256": sha256_file(directory / "part-old.parquet")}
    (set_dir / "_log" / "bucket=00000").mkdir(parents=True)
    (set_dir / "_log" / "bucket=00000" / "00000001.json").write_text(
        json.dumps({"version": 1, "bucket": 0, "add": [entry], "remove": []}))
    state = BucketLog(set_dir, 0).state()
    assert list(state.live) == [entry["path"]]
    read = read_part(set_dir, entry)
    assert read["event_timestamp"].null_count == 1  # added as null for parts written before it existed


def test_old_errors_parts_read_with_null_content_key_and_fingerprint(tmp_path):
    set_dir = tmp_path / "set"
    rows = [ErrorRow("a", "validate", "empty", "m.jsonl", 1, ckey="k1"), ErrorRow("b", "read", "bad", "m.jsonl", 2)]
    new = errors_table(rows, "run1", fingerprint="fp")
    assert new["content_key"].to_pylist() == ["k1", None] and new["fingerprint"].to_pylist() == ["fp", "fp"]
    old = new.drop_columns(["content_key", "fingerprint"])
    entry = write_part(old, bucket_dir(set_dir, "errors", 0) / "part-old.parquet", "errors", set_dir)
    os.rename(staged_path(set_dir / entry["path"]), set_dir / entry["path"])
    table = read_part(set_dir, entry)
    assert table.schema.names[-2:] == ["content_key", "fingerprint"] and table["content_key"].null_count == 2
    assert pa.concat_tables([table, new]).num_rows == 4


def test_vacuum_survives_files_vanishing_under_it(store, monkeypatch):
    set_dir = store.set_dir("s")
    gone = bucket_dir(set_dir, "data", 0) / ".part-gone.parquet.staged"
    listing = orphans._listing
    monkeypatch.setattr(orphans, "_listing", lambda *a: [*listing(*a), gone])  # removed after the listing
    assert store.vacuum("s", min_age_s=0) == []


def test_names_that_are_paths_are_refused(store, tmp_path, capsys):
    for name in ("../x", "a/b", "..", ".hidden", "_log", "a\\b", ""):
        with pytest.raises(StoreError, match="not a feature-set name"):
            store.set_dir(name)
    with pytest.raises(SystemExit) as exit_:
        main(["repair", "--store", str(store.root), "../../B/store/x"])
    assert exit_.value.code == 2 and "not a feature-set name" in capsys.readouterr().err


def test_log_paths_outside_the_bucket_are_refused_at_commit(store):
    log = BucketLog(store.set_dir("s"), 0)
    entry = {"path": "../../x.parquet", "kind": "data", "rows": 1, "sha256": "0", "bytes": 1}
    with pytest.raises(StoreError, match="refusing path"):
        log.commit(log.state(), add=[entry], remove=[], info={})
    with pytest.raises(StoreError, match="another bucket"):
        log.commit(log.state(), add=[], remove=["data/bucket=00001/part-x.parquet"], info={})


@pytest.mark.parametrize("algorithm", ["xxh3_128", "sha256"])
def test_both_checksum_algorithms_verify_and_detect_a_flipped_byte(tmp_path, algorithm):
    set_dir = tmp_path / "set"
    table = data_table(["a", "b"], np.ones((2, 4), np.float32), ["k1", "k2"])
    entry = write_part(table, bucket_dir(set_dir, "data", 0) / "part-x.parquet", "data", set_dir, checksum=algorithm)
    assert algorithm in entry and not ({"xxh3_128", "sha256"} - {algorithm}) & entry.keys()
    log = BucketLog(set_dir, 0)
    log.commit(log.state(), add=[entry], remove=[], info={})
    assert read_part(set_dir, entry).num_rows == 2
    path = set_dir / entry["path"]
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x04
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="checksum mismatch"):
        read_part(set_dir, entry)


def test_new_parts_carry_xxh3(store):
    entries = store.bucket_state("s", 0).files("data")
    assert entries and all("xxh3_128" in e and "sha256" not in e for e in entries)


def test_writing_into_a_set_after_its_bucket_count_changed_is_refused(store):
    settings = store.root / "mmfeat_store.json"
    settings.write_text(json.dumps({**json.loads(settings.read_text()), "n_buckets": 2}))
    with pytest.raises(StoreError, match="written with 1"):
        put(FeatureStore(store.root), "s", ["z"], np.ones((1, 4), np.float32))


def test_a_commit_that_died_before_moving_replaced_parts_aside_is_finished_by_a_reader(store, monkeypatch):
    set_dir, log = store.set_dir("s"), BucketLog(store.set_dir("s"), 0)
    state = log.state()
    old = state.files("data")[0]["path"]
    monkeypatch.setattr(bucket_log, "trash", lambda *a: None)  # killed after publishing, before the trash
    log.commit(state, add=[_part(store, "s", ["only"], "new")], remove=[old], info={})
    monkeypatch.undo()
    assert (set_dir / old).exists()  # directory readers would see old and new rows now
    assert store.read("s")["id"].to_pylist() == ["only"]  # not a stray: the log removed it
    assert not (set_dir / old).exists() and _directory_ids(set_dir) == (["only"], ["only"])
    assert store.verify("s") == []


def test_a_reader_whose_part_vanished_re_reads_the_log_instead_of_reporting_damage(store, monkeypatch):
    set_dir, log = store.set_dir("s"), BucketLog(store.set_dir("s"), 0)
    stale = log.state()
    log.commit(stale, add=[_part(store, "s", ["only"], "new")], remove=[stale.files("data")[0]["path"]], info={})
    os.utime(trash_path(set_dir, stale.files("data")[0]["path"]), (1, 1))
    store.vacuum("s")  # the replaced part is gone from _trash too
    replay, calls = BucketLog.state, []

    def stale_first(self):  # the reader replayed the log just before the commit
        calls.append(1)
        return stale.copy() if len(calls) == 1 else replay(self)

    monkeypatch.setattr(BucketLog, "state", stale_first)
    assert store.read("s")["id"].to_pylist() == ["only"] and len(calls) == 2


def test_commit_info_and_entry_metadata_survive_the_round_trip_through_json(store):
    set_dir, log = store.set_dir("s"), BucketLog(store.set_dir("s"), 0)
    entry = {**_part(store, "s", ["t"], "tuple"), "slots": (3, 1), "extra": {"k": 1.5}}
    log.commit(log.state(), add=[entry], remove=[], info={"meta": (1, 2), "time": 1.0 / 3})
    state = BucketLog(set_dir, 0).state()  # a fresh replay checks the hash of what was written
    assert state.live[entry["path"]]["slots"] == [3, 1] and state.live[entry["path"]]["extra"] == {"k": 1.5}
