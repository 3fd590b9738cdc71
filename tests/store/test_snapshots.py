"""Snapshots: every commit advances a version a reader can pin; old versions read from _trash until vacuum."""
import json
import os

import numpy as np
import pytest

from mmfeat.cli import main
from mmfeat.errors import StoreError
from mmfeat.store import FeatureStore
from mmfeat.store.bucket_log import BucketLog
from mmfeat.store.log_records import LogDamageError
from mmfeat.store.snapshots import SetVersion, Snapshot, SnapshotExpiredError, oldest_readable
from tests.conftest import sentences, write_jsonl
from tests.store_factory import put

IDS = [f"i{k}" for k in range(12)]


def vectors(value, n=len(IDS), dim=3):
    return np.full((n, dim), value, np.float32)


def by_id(store, name):
    ids, vecs = store.to_numpy(name)
    return {i: float(v[0]) for i, v in zip(ids, vecs)}


def age_trash(store, name, seconds):
    """Pretend the parts in the set's _trash were replaced ``seconds`` ago."""
    for path in (store.set_dir(name) / "_trash").rglob("*"):
        if path.is_file():
            stat = path.stat()
            os.utime(path, (stat.st_atime - seconds, stat.st_mtime - seconds))


@pytest.fixture
def store(tmp_path):
    return FeatureStore(tmp_path / "store", create=True, n_buckets=3)


def test_every_commit_advances_the_version_and_an_old_version_reads_from_trash(store):
    assert store.list() == []
    put(store, "v", IDS, vectors(1))
    first = store.version("v")
    assert first.version == sum(1 for b in first.buckets if b) == 3  # one commit per touched bucket
    assert first.time is not None and all(b == 1 for b in first.buckets)
    put(store, "v", IDS[:4], vectors(2, 4))  # replaces the buckets of the first four ids
    second = store.version("v")
    assert second.version > first.version and second.time >= first.time
    assert set(by_id(store, "v").values()) == {2.0}  # a bucket commit replaces the whole bucket
    old = store.at(first)
    assert by_id(old, "v") == {i: 1.0 for i in IDS}
    assert old.counts("v")["rows"] == 12 and old.version("v") == first
    assert list((store.set_dir("v") / "_trash").rglob("*.parquet"))  # read back from there
    assert by_id(store.at(second), "v") == by_id(store, "v")
    assert store.at({"v": 0}).read("v").num_rows == 0  # before the first commit


def test_pin_by_time_by_commit_count_and_by_recorded_snapshot(store):
    put(store, "a", IDS, vectors(1))
    put(store, "b", IDS, vectors(10))
    between = store.snapshot()
    put(store, "a", IDS, vectors(2))
    assert between.version == 6 and store.snapshot().version == 9
    # By time: the newest commit at or before it, per bucket.
    at_time = store.at(between.time)
    assert by_id(at_time, "a") == {i: 1.0 for i in IDS} and by_id(at_time, "b") == {i: 10.0 for i in IDS}
    assert at_time.version("a") == between.sets["a"]
    # By store-wide commit count: the first N commits of the store, in commit order.
    assert store.at(3).version("a") == between.sets["a"] and store.at(3).version("b").version == 0
    assert store.at(6).snapshot().to_dict()["sets"] == between.to_dict()["sets"]
    with pytest.raises(StoreError, match="version 10 does not exist.*latest is 9"):
        store.at(10)
    # Per set: a commit count, or the exact record a training run keeps.
    assert by_id(store.at({"a": 3}), "a") == {i: 1.0 for i in IDS}
    recorded = json.loads(json.dumps(between.to_dict()))
    pinned = store.at(recorded)
    assert Snapshot.from_dict(recorded) == between and by_id(pinned, "a") == {i: 1.0 for i in IDS}
    joined = pinned.join(["a", "b"])
    assert joined.num_rows == 12 and {float(v[0]) for v in joined["a"].to_pylist()} == {1.0}
    with pytest.raises(StoreError, match="'b' is not part of this snapshot"):
        store.at({"a": recorded["sets"]["a"]}).read("b")
    with pytest.raises(StoreError, match="recorded on another store"):
        store.at(SetVersion("a", (1, 1)))
    with pytest.raises(StoreError, match="not a time"):
        store.at("yesterday")


def test_a_pinned_store_is_read_only_and_never_sees_later_commits(store):
    put(store, "v", IDS, vectors(1))
    pinned = store.at(store.snapshot())
    put(store, "v", IDS, vectors(2))
    assert by_id(pinned, "v") == {i: 1.0 for i in IDS}  # pinned before the commit, read after it
    for call in (pinned.vacuum, pinned.compact, pinned.repair):
        with pytest.raises(StoreError, match="read-only snapshot"):
            call("v")


def test_replay_up_to_a_version_starts_at_the_checkpoint_at_or_before_it(store):
    put(store, "v", IDS, vectors(1))
    set_dir, bucket = store.set_dir("v"), 0
    for value in (2, 3):
        put(store, "v", IDS, vectors(value))
    log = BucketLog(set_dir, bucket)  # replays from disk (a log object that replayed before resumes from there)
    assert log.path(3).exists() and not log.path(4).exists()
    # Damage version 1: the log no longer replays, and repair writes a checkpoint (version 4).
    path = log.path(1)
    record = json.loads(path.read_text())
    record["add"][0]["rows"] += 1
    path.write_text(json.dumps(record))
    with pytest.raises(LogDamageError):
        log.state()
    store.repair("v")
    log = BucketLog(set_dir, bucket)
    assert log.versions() == [1, 2, 3, 4]
    assert log.state(upto=4).live == log.state().live
    put(store, "v", IDS, vectors(5))
    assert log.state(upto=4).version == 4 and log.state(upto=5).version == 5
    with pytest.raises(LogDamageError, match="00000001.json"):
        log.state(upto=3)  # before the checkpoint the damaged record still counts
    with pytest.raises(StoreError, match="no version 6"):
        log.state(upto=6)
    oldest = oldest_readable(store, "v")
    assert oldest.buckets[bucket] >= 4  # time travel before the repair is over for that bucket


def test_an_intact_log_replays_across_a_checkpoint(store):
    put(store, "v", IDS, vectors(1))
    log = BucketLog(store.set_dir("v"), 0)
    state = log.state()
    log.commit(state, add=list(state.live.values()), remove=[], info={"repair": True}, checkpoint=True)
    put(store, "v", IDS, vectors(2))
    assert log.state(upto=1).live == state.live == log.state(upto=2).live
    assert log.state(upto=3).live != state.live


def test_vacuum_older_than_ends_time_travel_with_a_clear_error(store):
    put(store, "v", IDS, vectors(1))
    first = store.version("v")
    put(store, "v", IDS, vectors(2))
    second = store.version("v")
    put(store, "v", IDS, vectors(3))
    assert oldest_readable(store, "v") is None
    age_trash(store, "v", 3 * 24 * 3600)
    assert store.vacuum("v") == []  # the default keeps replaced parts 7 days
    assert by_id(store.at(first), "v") == {i: 1.0 for i in IDS}
    assert main(["vacuum", "v", "--store", str(store.root), "--older-than", "2d"]) == 0
    assert not list((store.set_dir("v") / "_trash").rglob("*.parquet"))
    oldest = oldest_readable(store, "v")
    assert oldest == store.version("v")  # every part of the older versions is gone
    with pytest.raises(SnapshotExpiredError, match=rf"at version {first.version} .*`mmfeat vacuum` deleted.*"
                                                   rf"oldest readable version is {oldest.version}"):
        store.at(first).read("v")
    with pytest.raises(SnapshotExpiredError):
        store.at(second).read("v")
    assert by_id(store.at(oldest), "v") == {i: 3.0 for i in IDS}


def test_vacuum_older_than_takes_durations(store, capsys):
    put(store, "v", IDS, vectors(1))
    put(store, "v", IDS, vectors(2))
    age_trash(store, "v", 13 * 3600)
    assert main(["vacuum", "v", "--store", str(store.root), "--older-than", "1d"]) == 0
    assert "this ends time travel before then" in capsys.readouterr().out
    assert list((store.set_dir("v") / "_trash").rglob("*.parquet"))
    assert main(["vacuum", "v", "--store", str(store.root), "--older-than", "12h"]) == 0
    assert not list((store.set_dir("v") / "_trash").rglob("*.parquet"))
    with pytest.raises(SystemExit):
        main(["vacuum", "v", "--store", str(store.root), "--older-than", "soon"])
    assert "'soon' is not a duration" in capsys.readouterr().err


def test_show_prints_the_current_version(store, capsys):
    put(store, "v", IDS, vectors(1))
    assert main(["show", "v", "--store", str(store.root)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"]["version"] == store.version("v").version == 3
    assert shown["version"]["time"].endswith("Z")
    assert main(["ls", "--store", str(store.root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["version"] == 3


@pytest.mark.slow
def test_a_re_extract_keeps_the_old_vectors_readable_at_the_old_version(tmp_path, tiny_spec):
    rows = sentences(30)
    manifest = write_jsonl(tmp_path / "m.jsonl", rows)
    root = str(tmp_path / "s")
    argv = ["extract", "--store", root, "--input", str(manifest), "--feature", str(tiny_spec), "--buckets", "4"]
    assert main(argv) == 0
    store = FeatureStore(root)
    before, snapshot = by_id(store, "tiny_text"), store.snapshot(["tiny_text"])
    for row in rows[:12]:
        row["text"] = "an entirely different text " + row["text"][::-1]
    write_jsonl(manifest, rows)
    assert main(argv) == 0
    after = by_id(store, "tiny_text")
    assert {i for i in after if after[i] != before[i]} == {r["id"] for r in rows[:12]}
    assert store.version("tiny_text").version > snapshot.version
    assert by_id(store.at(snapshot), "tiny_text") == before
    assert by_id(store.at(snapshot.time), "tiny_text") == before


def test_a_pinned_reader_reads_its_version_while_a_writer_keeps_replacing_the_buckets(store):
    import threading

    put(store, "v", IDS, vectors(0))
    pinned = store.at(store.snapshot())
    stop, failures = threading.Event(), []

    def writer():
        value = 1
        while not stop.is_set():
            put(store, "v", IDS, vectors(value))
            value += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(30):
            got = by_id(pinned, "v")
            if got != {i: 0.0 for i in IDS}:
                failures.append(got)
    finally:
        stop.set()
        thread.join()
    assert failures == [] and store.version("v").version > pinned.version("v").version
