"""Repair one bucket: take damaged and stray files out of the store, and rebuild a damaged log.

Damaged files (missing, checksum mismatch) and visible files no commit
references are moved into ``_quarantine/STAMP/`` (hidden from directory
readers, kept for inspection), so that afterwards the API and pandas/duckdb see
the same rows. A log that no longer replays (a record edited, truncated,
removed, or naming a path outside the set) is rebuilt as a checkpoint commit:
a new version after the highest existing one, listing every file that a record
whose own hash still checks out references and that still verifies, and
starting a new hash chain. Files only a damaged record references are
quarantined. A rerun of the extract recomputes whatever was taken out.

Concurrent writers: the checkpoint is created exclusively like any commit,
so a writer holding an older state loses its next commit (and re-plans), and
repair retries when a writer wins. Writers cannot commit to a bucket whose log
does not replay, so a damaged bucket has no writers to race.
"""
import time
from pathlib import Path

from mmfeat.errors import CommitConflictError, StoreError
from mmfeat.store.checksums import matches
from mmfeat.store.bucket_log import BucketLog, BucketState
from mmfeat.store.files import move_aside
from mmfeat.store.integrity import strays, visible_files
from mmfeat.store.lifecycle import locate
from mmfeat.store.log_records import LogDamageError, load_record, record_problem
from mmfeat.store.objects import as_path

QUARANTINE_DIR = "_quarantine"
ATTEMPTS = 5


def quarantine(set_dir: Path, rel: str, stamp: str) -> bool:
    """Move ``rel`` (a file or directory of the set) to ``_quarantine/STAMP/rel``; False if it is gone."""
    set_dir = as_path(set_dir)
    return move_aside(set_dir / rel, set_dir / QUARANTINE_DIR / stamp / rel)


def salvage(log: BucketLog) -> BucketState:
    """The live set according to every record that still parses and matches its own hash, in order."""
    state = BucketState(log.bucket)
    for version in log.versions():
        try:
            record = load_record(log.path(version))
        except LogDamageError:
            continue
        if record_problem(record, version, log.bucket, hashed=log.hashed) is None:
            state.apply(record)
    return state


def _intact(set_dir: Path, rel: str, entry: dict) -> bool:
    """Whether a live part sits at its published name with its recorded checksum."""
    path = locate(set_dir, rel)
    try:
        return path == as_path(set_dir) / rel and matches(entry, path=path)
    except FileNotFoundError:
        return False


def repair_bucket(set_dir: Path, bucket: int, stamp: str) -> list[str]:
    """Repair one bucket (see the module docstring); return the paths taken out of the store."""
    set_dir = as_path(set_dir)
    log = BucketLog(set_dir, bucket)
    for _ in range(ATTEMPTS):
        listed = visible_files(set_dir, bucket)
        try:
            state, damaged = log.state(), False
        except LogDamageError:
            state, damaged = salvage(log), True
        bad = [rel for rel, entry in state.live.items() if not _intact(set_dir, rel, entry)]
        stray = [rel for rel, _ in strays(set_dir, listed, state)]
        if damaged or bad:
            for rel in bad:
                quarantine(set_dir, rel, stamp)
            info = {"repair": True, "time": time.time()}
            try:
                if damaged:
                    keep = [entry for rel, entry in state.live.items() if rel not in bad]
                    base = BucketState(bucket, max(log.versions(), default=0))
                    log.commit(base, add=keep, remove=[], info=info, checkpoint=True)
                else:
                    log.commit(state, add=[], remove=bad, info=info)
            except CommitConflictError:
                continue
            bad = sorted(bad)
        return bad + [rel for rel in stray if quarantine(set_dir, rel, stamp)]
    raise StoreError(f"{set_dir}: bucket {bucket} kept changing under repair ({ATTEMPTS} tries); "
                     f"run `mmfeat repair` again when no writer is running")
