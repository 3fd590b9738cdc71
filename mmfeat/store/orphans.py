"""Vacuum one bucket: finish interrupted publishes, delete what no commit needs any more.

Deleted, once older than ``min_age_s``: staged parts no commit references (a
writer that lost its commit or crashed), temp files, visible parts no commit
references (written by mmfeat before staged names); and parts in ``_trash``
once replaced longer ago than the retention (``trash_min_age_s``; the age counts
from the replacement), so a reader still holding an older log state, or pinned
to an older version, finds them meanwhile. A staged part
that a commit does reference is published, never deleted. Files vanishing
under the vacuum (another writer or vacuum got there first) are skipped.
"""
import time
from pathlib import Path

from mmfeat.errors import StoreError
from mmfeat.store.bucket_log import BucketLog, BucketState
from mmfeat.store.layout import KINDS, bucket_dir
from mmfeat.store.lifecycle import TRASH_DIR, final_of_staged, publish
from mmfeat.store.objects import as_path

ORPHAN_MIN_AGE_S = 3600
TRASH_RETENTION_S = 7 * 24 * 3600  # how long replaced parts stay readable by time travel, by default


def _listing(set_dir: Path, bucket: int) -> list[Path]:
    directories = [bucket_dir(set_dir, kind, bucket) for kind in KINDS]
    directories += [bucket_dir(set_dir / TRASH_DIR, kind, bucket) for kind in KINDS]
    directories.append(set_dir / "_log" / f"bucket={bucket:05d}")
    out = []
    for directory in directories:
        try:
            out.extend(p for p in directory.iterdir() if p.is_file())
        except FileNotFoundError:
            continue
    return out


def _older_than(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:  # removed by a concurrent writer or vacuum since the listing
        return False


def remove_orphans(set_dir: Path, state: BucketState, *, min_age_s: float = ORPHAN_MIN_AGE_S,
                   trash_min_age_s: float = TRASH_RETENTION_S) -> list[str]:
    """Vacuum bucket ``state.bucket``; return the deleted paths relative to ``set_dir``.

    Parts in ``_trash`` go once older than ``trash_min_age_s`` (default 7 days): the versions
    that used them can no longer be read (``FeatureStore.at``).

    The log is re-read after listing (from ``state`` on, which must come from
    a replay), so a part committed by another writer meanwhile is never taken
    for an orphan.
    A bucket whose log is damaged is left alone: ``mmfeat repair`` comes first.
    """
    set_dir = as_path(set_dir)
    listed = _listing(set_dir, state.bucket)
    try:
        live = BucketLog(set_dir, state.bucket).resume(state).state().live
    except StoreError:
        return []
    cutoff = time.time() - min_age_s
    trash_cutoff = time.time() - trash_min_age_s
    removed = []
    for path in listed:
        rel = path.relative_to(set_dir).as_posix()
        limit = cutoff
        if rel.startswith(f"{TRASH_DIR}/"):
            if rel[len(TRASH_DIR) + 1:] in live:
                continue
            limit = trash_cutoff
        elif rel.startswith("_log/"):
            if not path.name.startswith(".tmp-"):
                continue
        elif rel in live:
            continue
        else:
            final = final_of_staged(path)
            if final is not None and final.relative_to(set_dir).as_posix() in live:
                publish(set_dir, final.relative_to(set_dir).as_posix())
                continue
        if _older_than(path, limit):
            path.unlink(missing_ok=True)
            removed.append(rel)
    return removed
