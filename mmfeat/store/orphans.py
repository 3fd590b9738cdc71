"""Remove files a crashed writer left behind: temp files and parts it never committed.

A file is an orphan when no live commit references it. Only orphans older than
``min_age_s`` are removed, so a concurrent writer's part, published a moment
before its commit, is never taken from under it.
"""
import time
from pathlib import Path

from mmfeat.store.bucket_log import BucketState
from mmfeat.store.layout import bucket_dir

ORPHAN_MIN_AGE_S = 3600


def remove_orphans(set_dir: Path, state: BucketState, *, min_age_s: float = ORPHAN_MIN_AGE_S) -> list[str]:
    """Delete orphaned files of one bucket; return their paths relative to ``set_dir``."""
    removed = []
    cutoff = time.time() - min_age_s
    for kind in ("data", "errors"):
        directory = bucket_dir(set_dir, kind, state.bucket)
        if not directory.exists():
            continue
        for path in directory.iterdir():
            rel = path.relative_to(set_dir).as_posix()
            if rel not in state.live and path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed.append(rel)
    return removed
