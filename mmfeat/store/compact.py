"""Compaction: merge a bucket's small parts into target-size files in one atomic commit.

Readers and writers need no coordination with it. The merged part is written
staged, the commit that adds it removes its inputs (moved to ``_trash``, so a
reader holding the previous log state still reads them), and a lost commit race
discards the merged part and plans again from the new state. Rows are copied,
never recomputed; the merged part gets its own checksum.
"""
import time
import uuid
from pathlib import Path

import pyarrow as pa

from mmfeat.errors import CommitConflictError
from mmfeat.store.bucket_log import BucketLog
from mmfeat.store.checksums import ALGORITHMS
from mmfeat.store.layout import KINDS, bucket_dir
from mmfeat.store.log_records import ENTRY_KEYS
from mmfeat.store.parts import PartMissingError, discard, read_part, write_part
from mmfeat.store.slots import TAG_KEYS, merged_tags

DEFAULT_TARGET_BYTES = 128 * 1024 * 1024
ATTEMPTS = 5


def plan_groups(entries: list[dict], target_bytes: int, min_files: int) -> list[list[dict]]:
    """Groups of small parts (oldest first) whose merge is about ``target_bytes``; none under ``min_files``."""
    small = [e for e in entries if e["bytes"] < target_bytes]
    if len(small) < max(min_files, 2):
        return []
    groups, current, size = [], [], 0
    for entry in small:
        current.append(entry)
        size += entry["bytes"]
        if size >= target_bytes:
            groups.append(current)
            current, size = [], 0
    groups.append(current)
    return [g for g in groups if len(g) >= 2]


def carried_metadata(group: list[dict]) -> dict:
    """Extra entry keys that still hold for the merged part: those all inputs share with one value,
    and the slot tags covering every input's slots (see ``mmfeat.store.slots``)."""
    extra = {}
    keys = set(group[0]) - set(ENTRY_KEYS) - set(ALGORITHMS) - set(TAG_KEYS)
    for key in sorted(keys):
        if all(key in e and e[key] == group[0][key] for e in group):
            extra[key] = group[0][key]
    return {**extra, **merged_tags(group)}


def _merge(set_dir: Path, bucket: int, kind: str, group: list[dict]) -> dict:
    table = pa.concat_tables([read_part(set_dir, e) for e in group], promote_options="permissive")
    expected = sum(e["rows"] for e in group)
    if table.num_rows != expected:
        raise RuntimeError(f"bucket {bucket}: merged {table.num_rows} rows, expected {expected}; this is a bug")
    final = bucket_dir(set_dir, kind, bucket) / f"part-compact-{uuid.uuid4().hex}.parquet"
    return {**write_part(table, final, kind, set_dir), **carried_metadata(group)}


def compact_bucket(set_dir: Path, bucket: int, *, target_bytes: int = DEFAULT_TARGET_BYTES,
                   min_files: int = 2) -> dict:
    """Compact one bucket; return ``{"bucket", "merged", "written", "version"}`` (``skipped`` if it lost
    every commit race, ``version`` None if there was nothing to merge)."""
    log = BucketLog(set_dir, bucket)
    for _ in range(ATTEMPTS):
        state = log.state()
        groups = [(kind, g) for kind in KINDS for g in plan_groups(state.files(kind), target_bytes, min_files)]
        if not groups:
            return {"bucket": bucket, "merged": 0, "written": 0, "version": None}
        add = []
        try:
            for kind, group in groups:
                add.append(_merge(set_dir, bucket, kind, group))
        except PartMissingError:  # an input moved on under a concurrent commit: plan again
            discard(set_dir, add)
            continue
        except BaseException:
            discard(set_dir, add)
            raise
        remove = [e["path"] for _, g in groups for e in g]
        try:
            version = log.commit(state, add=add, remove=remove, info={"compact": True, "time": time.time()})
        except CommitConflictError:  # a writer committed meanwhile: plan again from its state
            discard(set_dir, add)
            continue
        return {"bucket": bucket, "merged": len(remove), "written": len(add), "version": version}
    return {"bucket": bucket, "merged": 0, "written": 0, "version": None, "skipped": True}
