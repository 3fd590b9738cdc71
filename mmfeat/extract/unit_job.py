"""One work unit (bucket, slot) of one run: read its rows back a chunk at a time, skip, encode, commit.

The unit receives only refs (see ``mmfeat.extract.units``) and fetches its rows
from the source in chunks of at most ``chunk_rows`` rows or ``chunk_bytes`` of
values, so its memory does not grow with the corpus. Each chunk is one commit:
a run killed at any point keeps every committed chunk, and the rerun skips them.
All copies of an id share a unit, and ids that occur more than once are
processed together in one chunk, so duplicate ids are resolved exactly.

Per chunk: validate and key each row (no model), resolve duplicate ids, skip ids
the store has with the same content, leave alone failures that would fail again
(same content, same spec, a stage that cannot change), copy vectors of contents
the slot already stores, encode the rest once per content, commit. The caller
writes the unit's stats (``mmfeat.extract.unit_stats``) after its last commit.
"""
import logging
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from mmfeat.errors import InputError
from mmfeat.extract.candidates import Candidate
from mmfeat.extract.chunking import plan_chunks
from mmfeat.extract.dedup import resolve_duplicate_ids
from mmfeat.extract.deferred import INLINE, Deferred
from mmfeat.extract.encoding import encode_values
from mmfeat.extract.memory import release_free_memory
from mmfeat.extract.progress import record_progress
from mmfeat.extract.slot_index import SlotIndex
from mmfeat.extract.sync import absent_path
from mmfeat.extract.unit_commit import ChunkOutcome, UnitWriter
from mmfeat.extract.units import DEFAULT_SLOTS, ShardRefs, id_digest, unit_name
from mmfeat.records import ErrorRow, Record
from mmfeat.sources.timestamps import content_part, with_event_time
from mmfeat.store import FeatureStore
from mmfeat.store.bucket_log import BucketLog
from mmfeat.store.files import replace_json
from mmfeat.store.layout import check_name, store_path
from mmfeat.store.parts import read_part
from mmfeat.store.summary import reason_key
from mmfeat.store.store import embedding_matrix

log = logging.getLogger(__name__)

# Failures that depend only on the content and the spec: an unchanged row would fail the same way again.
PERMANENT_STAGES = frozenset({"decode", "preprocess"})
# Failures that mean the row's current content is not what is stored: the stored vector is stale.
STALE_STAGES = frozenset({"validate", "dedup", "decode", "preprocess", "encode"})


@dataclass(frozen=True)
class RunContext:
    """What every unit of a run shares. Small and picklable: it travels to workers.

    ``n_slots``: units per bucket. ``chunk_rows`` / ``chunk_bytes``: the most rows,
    or bytes of values, a unit holds and commits at once. ``retry_errors``: encode
    again rows whose failure would otherwise be kept as it is.
    """

    store_root: str
    spec: object
    fingerprint: str
    run_id: str
    n_slots: int = DEFAULT_SLOTS
    chunk_rows: int = 8192
    chunk_bytes: int = 64 << 20
    retry_errors: bool = False
    plugins: tuple = ()  # plugin modules the driver imported; workers import them in setup
    sync: bool = False  # list stored ids the input lacks (the driver removes them)
    storage_options: dict = field(default_factory=dict, repr=False)  # fsspec options (credentials: never shown)
    # What the driver read already, so units need not read it again (a request each on an object store).
    n_buckets: int | None = None  # the store's bucket count
    log_hashes: bool | None = None  # the feature set's log_hashes flag
    logged_buckets: frozenset | None = None  # the buckets that had a commit log when the run started


def _size(value) -> int:
    return len(value) if isinstance(value, (str, bytes, bytearray)) else 64


class UnitJob:
    """Processes every row of one unit; ``run(elements)`` returns the unit's stats."""

    def __init__(self, ctx: RunContext, bucket: int, slot: int, get_encoder, source, validator,
                 deferred: Deferred = INLINE, logs: dict | None = None):
        """``deferred`` takes the after-commit steps (see ``mmfeat.extract.deferred``); inline by default.

        ``logs`` (bucket -> BucketLog), kept by a worker across the units of one run, lets a unit start
        from the bucket state the worker last saw instead of listing and reading the log again (a list
        and a GET or two on an object store); a bucket that had no log when the run started
        (``ctx.logged_buckets``) is not even listed once. That state may be stale if other workers
        committed to the bucket since: the unit's first commit then fails to create its version, replays
        the log and rebases (rows stored meanwhile with the same content are dropped), so nothing is
        stored twice.
        """
        self.ctx, self.bucket, self.slot, self.deferred = ctx, bucket, slot, deferred
        self.get_encoder, self.source, self.validator = get_encoder, source, validator
        if ctx.n_buckets is None:
            store = FeatureStore(ctx.store_root, storage_options=ctx.storage_options)
            self.n_buckets, self.set_dir = store.n_buckets, store.set_dir(ctx.spec.name)
        else:
            self.n_buckets = ctx.n_buckets
            self.set_dir = store_path(ctx.store_root, ctx.storage_options) / check_name(ctx.spec.name)
        self.index = SlotIndex(self.set_dir, bucket, slot, self.n_buckets, ctx.n_slots)
        shared = None if logs is None else logs.get(bucket)
        if logs is not None and shared is None:
            shared = logs[bucket] = BucketLog(self.set_dir, bucket, hashed=ctx.log_hashes)
            if ctx.logged_buckets is not None and bucket not in ctx.logged_buckets:
                shared.assume_empty()  # a new bucket: no listing needed to learn that its log is empty
        self.start_from_known = logs is not None
        self.writer = UnitWriter(ctx, bucket, slot, ctx.n_slots, self.set_dir, self.index, deferred, shared)
        self.counts = Counter()
        self.skipped, self.reasons, self.seconds = Counter(), Counter(), Counter()
        self.versions: list[int] = []

    # -- the unit ---------------------------------------------------------------------------
    def run(self, elements, done=None) -> dict | None:
        """Process the unit; its stats go to ``done(stats)`` (if given) and are returned.

        With an after-commit queue (``deferred``, on object stores) the last chunk's
        commit joins the queue: the worker encodes its next unit while the commit's
        PUTs wait on the store. ``done`` is then called from the queue's thread once
        the commit has happened, and ``run`` returns None. A failed commit fails the
        queue's ``drain``, so the bundle fails and Beam retries it.
        """
        t_start = time.perf_counter()
        refs, inline, read_errors = [], [], []
        for kind, payload in elements:
            if kind == "refs":
                refs.append(ShardRefs.from_wire(payload))
            elif kind == "value":
                inline.append(Record(*payload))
            elif kind == "error":
                read_errors.append(ErrorRow(*payload))
            # "sync": no row, it only makes the unit run so it can list what its input lacks
        n_input = sum(len(r.refs) for r in refs) + len(inline) + len(read_errors)
        bucket_log = self.writer.log
        self.index.refresh(bucket_log.known_state() if self.start_from_known else bucket_log.state())
        run_dir, n_done = self.set_dir / "_runs" / self.ctx.run_id, 0
        queue_last = not self.deferred.inline and not self.ctx.sync  # a sync run lists the slot after it
        for chunk in self._chunks(refs, inline, read_errors):
            planned = self._plan(chunk)
            n_done += len(chunk)
            del chunk  # its values are garbage now: their pages go back before the next fetch
            if n_done == n_input and queue_last:
                self.deferred.submit(self._finish, planned, n_input, t_start, done)
                return None
            self._commit(*planned)
            release_free_memory()
            if n_done < n_input:  # the last chunk is counted by the unit's stats
                record_progress(run_dir, unit_name(self.bucket, self.slot), n_done)
        if self.ctx.sync:
            self._list_absent(refs, inline, read_errors)
        return self._finish(None, n_input, t_start, done)

    def _finish(self, planned, n_input: int, t_start: float, done) -> dict:
        """Commit the last chunk (if it was queued), then count the unit and hand its stats to ``done``."""
        if planned is not None:
            self._commit(*planned)
            release_free_memory()
        stats = self._stats(n_input, t_start)
        log.info("%s unit %s: %d in, %d ok, %d errors, %d skipped, %d commit(s)", self.ctx.spec.name,
                 unit_name(self.bucket, self.slot), n_input, stats["n_ok"], stats["n_error"], stats["n_skipped"],
                 len(self.versions))
        if done is not None:
            done(stats)
        return stats

    def _chunks(self, refs: list[ShardRefs], inline: list[Record], read_errors: list[ErrorRow]):
        """Yield lists of fetched Records/ErrorRows, bounded in rows and bytes (see ``chunking``)."""
        chunk, size = list(read_errors), 0
        inline_digests = np.asarray([id_digest(r.id) for r in inline], np.uint64)
        for plan in plan_chunks(refs, inline_digests, self.ctx.chunk_rows):
            if plan.repeated:  # copies of an id stay together, whatever their bytes
                if chunk:
                    yield chunk
                    chunk, size = [], 0
                yield [item for k, r, d in plan.pieces for item in self._fetch(refs[k].shard, r, d)] + [
                    inline[i] for i in plan.inline]
                continue
            items = (item for k, r, d in plan.pieces for item in self._fetch(refs[k].shard, r, d))
            for item in (*items, *(inline[i] for i in plan.inline)) if plan.inline else items:
                chunk.append(item)
                size += _size(item.value) if isinstance(item, Record) else 0
                if len(chunk) >= self.ctx.chunk_rows or size >= self.ctx.chunk_bytes:
                    yield chunk
                    chunk, size = [], 0
        if chunk:
            yield chunk

    def _list_absent(self, refs, inline, read_errors) -> None:
        """Record the stored ids of this slot that the input no longer has (removed by the driver)."""
        seen = set(np.concatenate([r.digests for r in refs] + [np.zeros(0, np.uint64)]).tolist())
        seen.update(id_digest(r.id) for r in (*inline, *read_errors))
        self.index.refresh(self.writer.log.state())
        absent = sorted(i for i in {*self.index.data, *self.index.errors} if id_digest(i) not in seen)
        replace_json(absent_path(self.set_dir / "_runs" / self.ctx.run_id, unit_name(self.bucket, self.slot)),
                     {"bucket": self.bucket, "slot": self.slot, "ids": absent})

    def _fetch(self, shard, refs: np.ndarray, digests: np.ndarray):
        """The rows at ``refs`` of one shard; a row whose id no longer matches is an error, not a wrong row."""
        n = 0
        for digest, item in zip(digests.tolist(), self.source.fetch(shard, refs.tolist())):
            n += 1
            if isinstance(item, Record) and id_digest(item.id) != digest:
                item = ErrorRow(item.id, "read", "the input changed while the job ran (another row is now at "
                                "this position); rerun", item.source, item.line)
            yield item
        if n != len(refs):
            raise RuntimeError(f"{type(self.source).__name__}.fetch returned {n} rows for {len(refs)} refs of "
                               f"{shard}; this is a bug in the source")

    # -- one chunk --------------------------------------------------------------------------
    def _plan(self, chunk: list) -> tuple[ChunkOutcome, list, int]:
        """Everything up to the commit: the chunk's outcome (vectors encoded), its error rows, and how many
        rows keep an unchanged failure."""
        t0 = time.perf_counter()
        errors, candidates = self._validate(chunk)
        unique, n_dup, dup_errors = resolve_duplicate_ids(candidates)
        errors.extend(dup_errors)
        self.skipped["duplicate id in input"] += n_dup
        todo, replaced, unchanged = self._against_store(unique)
        self.seconds["plan"] += time.perf_counter() - t0
        ids, rows, ckeys, times = self._vectors_for(todo, errors)
        out = ChunkOutcome(ids, rows, ckeys, replaced, event_times=times)
        for e in errors:
            stored = self.index.data.get(e.id)
            if e.stage in STALE_STAGES and stored is not None and stored[0] != e.ckey:
                out.replaced.add(e.id)  # its current content is not what is stored: the old vector goes
        same = {e.id for e in errors if self._same_error(e, errors)}
        out.errors = [e for e in errors if e.id not in same]
        seen = {e.id for e in out.errors} | {c.id for c in candidates}
        out.touched_errors = {i for i in seen - unchanged - same if i in self.index.errors}
        return out, errors, len(unchanged)

    def _commit(self, out: ChunkOutcome, errors: list, n_unchanged: int) -> None:
        t0 = time.perf_counter()
        result = self.writer.commit(out)
        if result.version is not None:
            self.versions.append(result.version)
        self.skipped["stored meanwhile by another writer"] += result.dropped_same
        self.counts["n_ok"] += len(out.ids)
        self.counts["n_commit_attempts"] += result.attempts
        for e in errors + result.conflicts:
            self.reasons[reason_key(e.stage, e.reason)] += 1
        self.counts["n_error"] += len(errors) + len(result.conflicts) + n_unchanged
        self.seconds["write"] += time.perf_counter() - t0

    def _validate(self, chunk: list) -> tuple[list, list]:
        errors, candidates = [], []
        for item in chunk:
            if isinstance(item, ErrorRow):
                errors.append(item)
                continue
            reason = self.validator.validate(item.value)
            if reason:
                errors.append(ErrorRow(item.id, "validate", reason, item.source, item.line))
                continue
            try:
                ckey = with_event_time(self.validator.content_key(item.value), item.event_time)
            except InputError as exc:  # e.g. a manifest path to a missing file
                errors.append(ErrorRow(item.id, exc.stage, exc.reason, item.source, item.line))
                continue
            candidates.append(Candidate(item.id, item.value, item.source, item.line, ckey, item.event_time))
        return errors, candidates

    def _same_error(self, row: ErrorRow, errors: list) -> bool:
        """True if the store already holds this very verdict for the id (nothing to rewrite)."""
        stored = self.index.errors.get(row.id)
        if stored is None or (stored.stage, stored.reason) != (row.stage, row.reason):
            return False
        mine = [e for e in errors if e.id == row.id]
        return len(mine) == stored.rows and all((e.stage, e.reason) == (row.stage, row.reason) for e in mine)

    def _against_store(self, unique):
        """Split candidates: ``todo``, stored ids whose content changed, ids whose failure stands unchanged."""
        todo, replaced, unchanged = [], set(), set()
        for c in unique:
            stored = self.index.data.get(c.id)
            if stored is not None and stored[0] == c.ckey:
                self.skipped["already in store"] += 1
                continue
            known = self.index.errors.get(c.id)
            if (not self.ctx.retry_errors and known is not None and known.ckey == c.ckey
                    and known.fingerprint == self.ctx.fingerprint and known.stage in PERMANENT_STAGES):
                unchanged.add(c.id)
                self.reasons[f"{known.stage}: unchanged since an earlier run, not retried"] += 1
                continue
            if stored is not None:
                replaced.add(c.id)
            todo.append(c)
        return todo, replaced, unchanged

    def _vectors_for(self, todo, errors: list):
        """Outputs for ``todo``: identical contents encoded once, contents the slot stores copied.

        Rows are grouped by content alone (``content_part``): rows that differ only in their event time share
        one vector."""
        by_content: dict[str, list] = {}
        for c in todo:
            by_content.setdefault(content_part(c.ckey), []).append(c)
        outputs = self._stored_outputs(set(by_content))
        to_encode = [k for k in by_content if k not in outputs]
        if to_encode:
            t0 = time.perf_counter()
            encoder = self.get_encoder()
            self.seconds["load"] += time.perf_counter() - t0
            result = encode_values(encoder, [by_content[k][0].value for k in to_encode], self.ctx.spec.batching)
            self.seconds.update(result.seconds)
            keeps = self.ctx.spec.keeps_chunks
            for i, key in enumerate(to_encode):
                if i in result.vectors:
                    outputs[key] = (result.vectors[i], result.sequences[i] if keeps else None)
                else:
                    stage, reason = result.failures[i]
                    errors.extend(ErrorRow(c.id, stage, reason, c.source, c.line, c.ckey) for c in by_content[key])
            self.counts["n_encoded"] += len(result.vectors)
            self.counts["n_batches"] += result.n_batches
        ids, rows, ckeys, times = [], [], [], []
        for key, group in by_content.items():
            if key in outputs:
                for c in group:
                    ids.append(c.id), rows.append(outputs[key]), ckeys.append(c.ckey), times.append(c.event_time)
        self.counts["n_reused"] += len(ids) - sum(k in outputs for k in to_encode)
        return ids, rows, ckeys, times

    def _stored_outputs(self, keys: set) -> dict:
        """Vectors the slot already stores for contents ``keys`` (``content_part``s), whatever the event time
        they were stored with, read from the parts holding them."""
        out = {}
        if not keys:
            return out
        state_live = None
        stored = {k for k in self.index.stored_ckeys() if content_part(k) in keys}
        for path, wanted in self.index.paths_of_ckeys(stored).items():
            if state_live is None:
                state_live = self.writer.log.state().live
            entry = state_live.get(path)
            if entry is None:
                continue  # rewritten meanwhile: encode instead
            table = read_part(self.set_dir, entry, None, verify=True)
            matrix = embedding_matrix(table["embedding"])
            chunks = table["chunks"] if self.ctx.spec.keeps_chunks else None
            for i, ckey in enumerate(table["content_key"].to_pylist()):
                if ckey in wanted and content_part(ckey) not in out:
                    out[content_part(ckey)] = (matrix[i], embedding_matrix(chunks[i].values)
                                               if chunks is not None else None)
        return out

    def _stats(self, n_input: int, t_start: float) -> dict:
        n_ok, n_error, n_skipped = self.counts["n_ok"], self.counts["n_error"], sum(self.skipped.values())
        if n_input != n_ok + n_error + n_skipped:
            raise RuntimeError(f"unit {unit_name(self.bucket, self.slot)}: {n_input} inputs but {n_ok} ok + "
                               f"{n_error} errors + {n_skipped} skipped; this is a bug in mmfeat, please report it")
        self.seconds["total"] = time.perf_counter() - t_start
        return {"bucket": self.bucket, "slot": self.slot, "n_slots": self.ctx.n_slots, "n_input": n_input,
                "n_ok": n_ok, "n_error": n_error, "n_skipped": n_skipped,
                "n_encoded": self.counts["n_encoded"], "n_reused": self.counts["n_reused"],
                "n_batches": self.counts["n_batches"], "n_commits": len(self.versions),
                "n_commit_attempts": self.counts["n_commit_attempts"],
                "skipped_by_reason": {k: v for k, v in self.skipped.items() if v},
                "errors_by_reason": dict(self.reasons), "committed_versions": self.versions,
                "host": socket.gethostname(), "pid": os.getpid(),
                "seconds": {k: round(v, 4) for k, v in self.seconds.items()}}
