"""Compaction on real stores: same rows after, one commit per bucket, safe under concurrent readers
and writers (two real writer processes and a polling reader process)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmfeat import FeatureStore
from mmfeat.beam.extract_job import extract
from mmfeat.cli import main
from mmfeat.store import compact as compact_module
from mmfeat.store.bucket_log import BucketLog
from mmfeat.store.compact import carried_metadata, compact_bucket, plan_groups
from mmfeat.store.layout import bucket_dir
from mmfeat.store.lifecycle import TRASH_DIR
from mmfeat.store.parts import data_table, write_part
from tests.conftest import sentences, write_jsonl
from tests.store_factory import put

REPO = Path(__file__).resolve().parents[2]


def _sorted_rows(table):
    return sorted(zip(table["id"].to_pylist(), map(tuple, np.asarray(table["embedding"].to_pylist())),
                      table["content_key"].to_pylist(), table["event_timestamp"].to_pylist()))


def _directory_ids(set_dir):
    import duckdb
    import pandas as pd

    return (sorted(pd.read_parquet(set_dir / "data")["id"]),
            sorted(i for (i,) in duckdb.sql(f"select id from '{set_dir}/data/*/*.parquet'").fetchall()))


@pytest.mark.slow
def test_compaction_merges_small_parts_and_keeps_every_row_and_checksum(tmp_path, tiny_spec):
    manifest = tmp_path / "m.jsonl"
    for n in (20, 40, 60):
        extract(tiny_spec, tmp_path / "store", str(write_jsonl(manifest, [{"id": "bad", "text": ""},
                                                                         *sentences(n)])), n_buckets=4)
    store = FeatureStore(tmp_path / "store")
    before, errors_before = store.read("tiny_text"), store.errors("tiny_text")
    assert max(len(s.files("data")) for s in store.states("tiny_text")) >= 3

    assert main(["compact", "--store", str(store.root), "tiny_text"]) == 0
    assert all(len(s.files("data")) == 1 for s in store.states("tiny_text"))
    assert _sorted_rows(store.read("tiny_text")) == _sorted_rows(before)
    assert store.errors("tiny_text").to_pylist() == errors_before.to_pylist()
    assert store.verify("tiny_text") == []
    ids = sorted(before["id"].to_pylist())
    assert _directory_ids(store.set_dir("tiny_text")) == (ids, ids)
    assert any((store.set_dir("tiny_text") / TRASH_DIR / "data").rglob("part-*.parquet"))
    assert store.compact("tiny_text")["merged"] == 0  # nothing small left to merge
    rerun = extract(tiny_spec, tmp_path / "store", str(manifest))
    assert rerun["n_encoded"] == 0 and rerun["n_skipped"] == 60


def test_groups_reach_the_target_size_and_single_files_are_left_alone():
    entries = [{"path": f"p{k}", "bytes": b} for k, b in enumerate([40, 40, 40, 200, 30, 10])]
    groups = plan_groups(entries, target_bytes=100, min_files=2)
    assert [[e["path"] for e in g] for g in groups] == [["p0", "p1", "p2"], ["p4", "p5"]]
    assert plan_groups(entries[:1], target_bytes=100, min_files=2) == []
    assert plan_groups(entries, target_bytes=100, min_files=6) == []


def test_merged_parts_record_the_slots_they_cover_and_keep_shared_metadata():
    group = [{"path": "a", "kind": "data", "rows": 1, "sha256": "x", "bytes": 1, "slot": [7, 8], "run_id": "r", "w": 1},
             {"path": "b", "kind": "data", "rows": 1, "sha256": "y", "bytes": 1, "slots": [3, 7], "n_slots": 8,
              "run_id": "r"},
             {"path": "c", "kind": "data", "rows": 1, "sha256": "z", "bytes": 1, "slot": [1, 8], "run_id": "r", "w": 2}]
    assert carried_metadata(group) == {"run_id": "r", "slots": [1, 3, 7], "n_slots": 8}
    untagged = {"path": "d", "kind": "data", "rows": 1, "sha256": "w", "bytes": 1, "run_id": "r"}
    assert carried_metadata([*group, untagged]) == {"run_id": "r"}  # may hold any slot: no tags


def test_a_compaction_that_loses_the_commit_race_plans_again_and_loses_nothing(tmp_path, monkeypatch):
    store = FeatureStore(tmp_path / "store", create=True, n_buckets=1)
    put(store, "s", ["a", "b"], np.ones((2, 4), np.float32))
    set_dir, log = store.set_dir("s"), BucketLog(store.set_dir("s"), 0)
    for tag in ("c", "d"):
        table = data_table([tag], np.ones((1, 4), np.float32), [f"ck-{tag}"])
        log.commit(log.state(), add=[write_part(table, bucket_dir(set_dir, "data", 0) / f"part-{tag}.parquet",
                                                "data", set_dir)], remove=[], info={})
    merge, raced = compact_module._merge, []

    def merge_while_a_writer_commits(*args):
        entry = merge(*args)
        if not raced:  # another writer commits between the compaction's plan and its commit
            table = data_table(["e"], np.ones((1, 4), np.float32), ["ck-e"])
            other = BucketLog(set_dir, 0)
            other.commit(other.state(), add=[write_part(table, bucket_dir(set_dir, "data", 0) / "part-e.parquet",
                                                        "data", set_dir)], remove=[], info={})
            raced.append(entry)
        return entry

    monkeypatch.setattr(compact_module, "_merge", merge_while_a_writer_commits)
    result = compact_bucket(set_dir, 0, target_bytes=1 << 20)
    assert result["merged"] == 4 and result["written"] == 1
    assert sorted(store.read("s")["id"].to_pylist()) == ["a", "b", "c", "d", "e"]
    assert not any(p.name.endswith(".staged") for p in bucket_dir(set_dir, "data", 0).iterdir())  # discarded
    assert store.verify("s") == []


def _spawn(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "tests.store.workers", *map(str, args)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(process):
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_two_writer_processes_a_reader_process_and_compaction_on_one_bucket(tmp_path):
    store = FeatureStore(tmp_path / "store", create=True, n_buckets=1)
    put(store, "s", [f"seed{k}" for k in range(5)], np.ones((5, 4), np.float32))
    stop = tmp_path / "stop"
    reader = _spawn("poll", store.root, "s", stop)
    writers = [_spawn("append", store.root, "s", prefix, 25, 3) for prefix in ("w1", "w2")]
    compactions = 0
    while any(w.poll() is None for w in writers):
        compactions += bool(store.compact("s", target_bytes=1 << 20)["merged"])
    results = [_result(w) for w in writers]
    store.compact("s", target_bytes=1 << 20)
    stop.touch()
    seen = _result(reader)

    expected = sorted([f"seed{k}" for k in range(5)] +
                      [f"{p}-{c}-{k}" for p in ("w1", "w2") for c in range(25) for k in range(3)])
    assert sorted(store.read("s")["id"].to_pylist()) == expected  # nothing lost, nothing twice
    assert store.verify("s") == []
    assert _directory_ids(store.set_dir("s")) == (expected, expected)
    assert seen["reads"] > 0 and seen["n_problems"] == 0, seen["problems"]
    print(f"conflicts {[r['conflicts'] for r in results]}, compactions {compactions}, reads {seen['reads']}")


@pytest.mark.slow
def test_kill_9_during_commits_and_compactions_loses_and_duplicates_nothing(tmp_path):
    """A process appending and compacting in a loop is killed at 8 moments; after each kill the set
    reads exactly (whole commits only), verify is clean, and directory readers match the API."""
    import signal
    import time

    store = FeatureStore(tmp_path / "store", create=True, n_buckets=2)
    put(store, "s", [f"seed{k}" for k in range(6)], np.ones((6, 4), np.float32))
    appended = 0
    for delay in (1.0, 1.3, 1.6, 1.9, 2.2, 2.5, 2.8, 3.1):
        child = _spawn("churn", store.root, "s")
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.communicate()
        ids = FeatureStore(store.root).read("s")["id"].to_pylist()
        assert len(ids) == len(set(ids))
        commits = sorted({int(i.split("-")[0][1:]) for i in ids if i.startswith("c")})
        assert commits == list(range(len(commits)))  # every commit up to the kill, none after it
        assert sum(i.startswith("c") for i in ids) == 3 * len(commits)  # each commit whole
        assert store.verify("s") == []
        assert _directory_ids(store.set_dir("s")) == (sorted(ids), sorted(ids))
        appended = len(commits)
    assert appended > 0
    store.vacuum("s", min_age_s=0)
    assert not [p for p in store.set_dir("s").rglob("*") if p.name.endswith((".staged", ".tmp"))]
