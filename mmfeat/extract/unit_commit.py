"""Commit one chunk of a unit: append its rows, rewrite only the parts whose rows it supersedes.

Many units write to one bucket at once, so a commit can lose the race for the
next log version. Appending is always safe to replay, so the writer rebases:
it re-reads the log, looks only at the parts added since, and commits again.
Only a real conflict surfaces: an id that another writer stored meanwhile. With
the same content it is dropped here (counted as skipped); with different content
it becomes an error row ("stored concurrently with different content") and the
other writer's row stands. The parts to rewrite are planned anew on every
attempt, from the log as it is then, so a concurrent rewrite is never undone.
"""
import logging
import random
import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from mmfeat.errors import CommitConflictError
from mmfeat.extract.deferred import INLINE
from mmfeat.records import ErrorRow
from mmfeat.store.bucket_log import BucketLog
from mmfeat.store.layout import bucket_dir
from mmfeat.store.parts import data_table, discard, errors_table, write_part
from mmfeat.store.rewrite import copy_without
from mmfeat.store.slots import tag_entry

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 25


@dataclass
class ChunkOutcome:
    """What one chunk wants to change in the store."""

    ids: list = field(default_factory=list)
    vectors: list = field(default_factory=list)  # per id: (vector, chunks or None)
    ckeys: list = field(default_factory=list)
    replaced: set = field(default_factory=set)  # stored ids whose old row must go
    errors: list = field(default_factory=list)  # this chunk's new error rows
    touched_errors: set = field(default_factory=set)  # ids whose stored error rows must go
    event_times: list | None = None  # per id: its event time (UTC epoch us) or None (the commit time)


@dataclass
class CommitResult:
    version: int | None
    attempts: int
    dropped_same: int = 0  # rows another writer stored meanwhile with the same content
    conflicts: list = field(default_factory=list)  # ErrorRows for rows stored meanwhile with other content


class UnitWriter:
    """Writes a unit's chunks into its bucket; one instance per unit."""

    def __init__(self, ctx, bucket: int, slot: int, n_slots: int, set_dir, index, deferred=INLINE, log=None):
        """``log``: the bucket's BucketLog, shared by the units one worker runs (see ``UnitJob``)."""
        self.ctx, self.bucket, self.slot, self.n_slots = ctx, bucket, slot, n_slots
        self.set_dir, self.index, self.deferred = set_dir, index, deferred
        self.log = log or BucketLog(set_dir, bucket, hashed=ctx.log_hashes)
        self._serial = 0

    def _name(self) -> str:
        self._serial += 1
        return f"part-{self.ctx.run_id}-{self.bucket:05d}-{self.slot:04d}-{self._serial:06d}.parquet"

    def _stage(self, table: pa.Table, kind: str) -> dict:
        entry = write_part(table, bucket_dir(self.set_dir, kind, self.bucket) / self._name(), kind, self.set_dir)
        return tag_entry(entry, self.slot, self.n_slots)

    def _data_part(self, out: ChunkOutcome) -> dict | None:
        if not out.ids:
            return None
        chunks = [v[1] for v in out.vectors] if self.ctx.spec.keeps_chunks else None
        table = data_table(out.ids, np.stack([v[0] for v in out.vectors]), out.ckeys, chunks,
                           event_times=out.event_times)
        return self._stage(table, "data")

    def _rewrites(self, state, kind: str, ids: set) -> tuple[list, list]:
        """Staged copies of the live parts holding ``ids``, without them; and the paths they replace."""
        add, remove = [], []
        for path, drop in self.index.parts_holding(kind, ids).items():
            copy, _ = copy_without(self.set_dir, self.bucket, state.live[path], drop, self._name())
            add += [copy] if copy else []
            remove.append(path)
        return add, remove

    def _rebase(self, out: ChunkOutcome, new_paths: set, result: CommitResult) -> bool:
        """Drop rows that another writer stored in ``new_paths``; True if ``out`` changed."""
        keep = []
        for k, id_ in enumerate(out.ids):
            hit = self.index.data.get(id_)
            if hit is None or hit[1] not in new_paths:
                keep.append(k)
                continue
            out.replaced.discard(id_)  # the other writer's row is the current one now
            if hit[0] == out.ckeys[k]:
                result.dropped_same += 1
            else:
                result.conflicts.append(ErrorRow(
                    id_, "conflict", f"stored concurrently by another writer with different content ({hit[1]}); "
                    f"rerun to store this run's content", "", 0, out.ckeys[k]))
        if len(keep) == len(out.ids):
            return False
        out.ids = [out.ids[k] for k in keep]
        out.vectors = [out.vectors[k] for k in keep]
        out.ckeys = [out.ckeys[k] for k in keep]
        out.event_times = None if out.event_times is None else [out.event_times[k] for k in keep]
        return True

    def commit(self, out: ChunkOutcome) -> CommitResult:
        """Publish ``out`` in one log commit, rebasing on lost races; raise after ``MAX_ATTEMPTS``."""
        result = CommitResult(None, 0)
        if not (out.ids or out.errors or out.replaced or out.touched_errors):
            return result
        data, errors_entry, n_conflicts_staged = self._data_part(out), None, -1
        for attempt in range(1, MAX_ATTEMPTS + 1):
            result.attempts = attempt
            # The first attempt builds on the state the unit last saw; a lost race replays the log.
            state = self.log.known_state() if attempt == 1 else self.log.state()
            new_paths = set(self.index.refresh(state))
            if new_paths and self._rebase(out, new_paths, result):
                discard(self.set_dir, [data] if data else [])
                data = self._data_part(out)
            if len(result.conflicts) != n_conflicts_staged:  # the errors part must carry every conflict
                discard(self.set_dir, [errors_entry] if errors_entry else [])
                rows = out.errors + result.conflicts
                table = errors_table(rows, self.ctx.run_id, self.ctx.fingerprint)
                errors_entry = self._stage(table, "errors") if rows else None
                n_conflicts_staged = len(result.conflicts)
            add_d, remove_d = self._rewrites(state, "data", out.replaced)
            add_e, remove_e = self._rewrites(state, "errors", out.touched_errors)
            add = [e for e in (data, errors_entry) if e] + add_d + add_e
            remove = remove_d + remove_e
            if not add and not remove:
                return result
            info = {"run_id": self.ctx.run_id, "fingerprint": self.ctx.fingerprint, "time": time.time(),
                    "unit": [self.bucket, self.slot, self.n_slots]}
            try:
                result.version = self.log.commit(state, add=add, remove=remove, info=info,
                                                 defer=self.deferred.submit)
                self.index.note_committed(data, out.ids, out.ckeys, errors_entry, out.errors + result.conflicts,
                                          self.ctx.fingerprint)
                return result
            except CommitConflictError:
                discard(self.set_dir, add_d + add_e)
                time.sleep(random.uniform(0.01, 0.05) * min(attempt, 10))
        discard(self.set_dir, [e for e in (data, errors_entry) if e])
        raise CommitConflictError(
            f"{self.set_dir.name}: bucket {self.bucket} kept changing under this run ({MAX_ATTEMPTS} commit attempts "
            f"lost to other writers); nothing of this chunk was published. Rerun the job: it resumes where it stopped."
        )
