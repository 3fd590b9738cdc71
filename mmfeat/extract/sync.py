"""``--sync``: remove from a feature set the ids its input no longer has.

Every unit of a sync run lists the stored ids of its slot that its input lacks
(``_runs/RUN_ID/absent/unit=*.json``); the driver removes them after the
pipeline, bucket by bucket, each bucket in one commit (rebased on lost races).
Removal is conservative: if any row of the run could not be read at all (a
``read`` error: a broken line, a truncated shard), its id may be one of the
"absent" ones, so nothing is removed and the report says why.
"""
import json
import posixpath
import random
import time
from collections import defaultdict
from pathlib import Path

from mmfeat.errors import CommitConflictError
from mmfeat.store.bucket_log import BucketLog
from mmfeat.store.objects import as_path
from mmfeat.store.parts import discard
from mmfeat.store.rewrite import copy_without, holds_any

MAX_ATTEMPTS = 25


def absent_path(run_dir: Path, unit: str) -> Path:
    """Where a unit lists the stored ids its input lacks."""
    return as_path(run_dir) / "absent" / f"unit={unit}.json"


def collect_absent(run_dir: Path) -> dict[int, set[str]]:
    """``{bucket: ids}`` the units of a run found stored but absent from the input."""
    out: dict[int, set[str]] = defaultdict(set)
    for path in sorted((as_path(run_dir) / "absent").glob("unit=*.json")):
        record = json.loads(path.read_text())
        out[record["bucket"]].update(record["ids"])
    return out


def _rewrite(set_dir: Path, state, ids: set[str], run_id: str) -> tuple[list, list, int]:
    add, remove, n_removed = [], [], 0
    for path, entry in state.live.items():
        if not holds_any(set_dir, entry, ids):
            continue
        copy, dropped = copy_without(set_dir, state.bucket, entry, ids, f"part-{run_id}-sync-{posixpath.basename(path)}")
        n_removed += dropped if entry["kind"] == "data" else 0
        add += [copy] if copy else []
        remove.append(path)
    return add, remove, n_removed


def remove_ids(set_dir: Path, bucket: int, ids: set[str], run_id: str) -> int:
    """Remove ``ids`` (their vectors and error rows) from one bucket in one commit; return vectors removed."""
    log = BucketLog(set_dir, bucket)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        state = log.state()
        add, remove, n_removed = _rewrite(set_dir, state, ids, run_id)
        if not remove:
            return 0
        try:
            log.commit(state, add=add, remove=remove, info={"run_id": run_id, "sync": True, "time": time.time()})
            return n_removed
        except CommitConflictError:
            discard(set_dir, add)
            time.sleep(random.uniform(0.01, 0.05) * min(attempt, 10))
    raise CommitConflictError(f"{set_dir.name}: bucket {bucket} kept changing; --sync removed nothing there. "
                              f"Rerun with --sync when other writers are done.")


def apply_sync(set_dir: Path, run_dir: Path, run_id: str, report: dict) -> dict:
    """Remove the absent ids unless the run could not read some rows; return the report's ``sync`` entry."""
    absent = collect_absent(run_dir)
    n_absent = sum(len(v) for v in absent.values())
    unreadable = sum(n for reason, n in report.get("errors_by_reason", {}).items() if reason.startswith("read:"))
    if unreadable and n_absent:
        return {"removed": 0, "absent": n_absent, "skipped": f"{unreadable} input row(s) could not be read, so "
                "an id missing from the input may only be unreadable; fix the input and rerun with --sync"}
    removed = sum(remove_ids(set_dir, bucket, ids, run_id) for bucket, ids in sorted(absent.items()))
    return {"removed": removed, "absent": n_absent}
