"""Processes the store's concurrency tests start: an appending writer and a polling reader.

    python -m tests.store.workers append ROOT NAME PREFIX N_COMMITS PER_COMMIT
    python -m tests.store.workers poll ROOT NAME STOP_FILE
    python -m tests.store.workers churn ROOT NAME      (until killed)

Each prints one JSON line with what it saw.
"""
import json
import sys
import time
from pathlib import Path

import numpy as np

from mmfeat import FeatureStore
from mmfeat.errors import CommitConflictError, MmfeatError
from mmfeat.store.bucket_log import BucketLog
from mmfeat.store.layout import bucket_dir
from mmfeat.store.parts import data_table, discard, write_part


def append(root, name, prefix, n_commits, per_commit) -> dict:
    """Commit ``n_commits`` parts of new ids to bucket 0, re-planning after every lost race."""
    set_dir = FeatureStore(root).set_dir(name)
    log, conflicts = BucketLog(set_dir, 0), 0
    for c in range(n_commits):
        ids = [f"{prefix}-{c}-{k}" for k in range(per_commit)]
        table = data_table(ids, np.full((per_commit, 4), c, np.float32), [f"ck-{i}" for i in ids])
        while True:
            state = log.state()
            final = bucket_dir(set_dir, "data", 0) / f"part-{prefix}-{c:04d}-{conflicts:04d}.parquet"
            entry = {**write_part(table, final, "data", set_dir), "slot": f"{prefix}-{c:04d}"}
            try:
                log.commit(state, add=[entry], remove=[], info={"writer": prefix})
                break
            except CommitConflictError:
                discard(set_dir, [entry])
                conflicts += 1
    return {"conflicts": conflicts}


def poll(root, name, stop_file) -> dict:
    """Read the whole set until ``stop_file`` exists; count reads and anything wrong."""
    reads, problems, deadline = 0, [], time.time() + 300
    while not Path(stop_file).exists() and time.time() < deadline:
        try:
            ids = FeatureStore(root).read(name, columns=["id"])["id"].to_pylist()
        except MmfeatError as exc:  # the test asserts there are none; keep the first few to show
            problems.append(str(exc))
            continue
        if len(ids) != len(set(ids)):
            problems.append(f"{len(ids) - len(set(ids))} duplicate ids")
        reads += 1
    return {"reads": reads, "n_problems": len(problems), "problems": problems[:3]}


def churn(root, name) -> None:
    """Forever: commit 3 new ids ``c{k}-{j}`` to bucket k mod n, then compact that bucket (killed by the test)."""
    import uuid

    from mmfeat.store.compact import compact_bucket

    store = FeatureStore(root)
    set_dir = store.set_dir(name)
    done = [int(i.split("-")[0][1:]) for i in store.read(name, columns=["id"])["id"].to_pylist() if i[0] == "c"]
    k = max(done, default=-1) + 1
    while True:
        bucket = k % store.n_buckets
        ids = [f"c{k}-{j}" for j in range(3)]
        table = data_table(ids, np.full((3, 4), k, np.float32), [f"ck-{i}" for i in ids])
        log = BucketLog(set_dir, bucket)
        entry = write_part(table, bucket_dir(set_dir, "data", bucket) / f"part-churn-{uuid.uuid4().hex}.parquet",
                           "data", set_dir)
        log.commit(log.state(), add=[entry], remove=[], info={})
        compact_bucket(set_dir, bucket, target_bytes=1 << 20)
        k += 1


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "append":
        result = append(args[0], args[1], args[2], int(args[3]), int(args[4]))
    elif command == "churn":
        result = churn(*args)
    else:
        result = poll(*args)
    print(json.dumps(result))
