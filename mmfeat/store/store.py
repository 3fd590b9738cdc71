"""``FeatureStore``: the Python API over a store root holding many feature sets."""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from mmfeat.errors import StoreError
from mmfeat.store import feature_set, layout
from mmfeat.store.bucket_log import BucketLog, BucketState
from mmfeat.store.compact import DEFAULT_TARGET_BYTES, compact_bucket
from mmfeat.store.integrity import set_problems, strays, visible_files
from mmfeat.store.log_records import LogDamageError, repair_hint
from mmfeat.store.orphans import ORPHAN_MIN_AGE_S, TRASH_RETENTION_S, remove_orphans
from mmfeat.store.parts import ERRORS_SCHEMA, EVENT_TIMESTAMP, PartMissingError, read_part, verify_part
from mmfeat.store.repair import quarantine, repair_bucket

EMPTY_DATA = pa.schema([("id", pa.string()), ("embedding", pa.list_(pa.float32())), ("content_key", pa.string()),
                        ("chunks", pa.list_(pa.list_(pa.float32()))), EVENT_TIMESTAMP])
READ_ATTEMPTS = 4  # a reader racing a commit sees at most a publish or a trash in flight; retries settle it


@dataclass
class _Pass:
    """What ``FeatureStore.one_pass`` remembers: each set's metadata, and the sets whose layout is checked."""

    meta: dict = field(default_factory=dict)
    checked: set = field(default_factory=set)


class FeatureStore:
    """A directory of feature sets sharing one bucket layout.

    ``root`` is a local path or an object-store URL (``s3://bucket/prefix``,
    ``gs://``, ``az://``), with fsspec ``storage_options`` for the latter.
    ``FeatureStore(root)`` opens an existing store; ``create=True`` makes one
    (with ``n_buckets``, default 16, fixed for its lifetime). Reads see only
    committed files and verify each one's checksum unless ``verify=False``.
    """

    def __init__(self, root, *, create: bool = False, n_buckets: int | None = None,
                 storage_options: dict | None = None):
        self.root, self.n_buckets = layout.open_root(root, create=create, n_buckets=n_buckets,
                                                     storage_options=storage_options)
        self.storage_options = dict(storage_options or {})  # never printed: it may hold credentials
        self._pass: _Pass | None = None  # set inside one_pass()

    def __repr__(self):
        return f"FeatureStore({str(self.root)!r}, n_buckets={self.n_buckets})"

    # -- discovery -------------------------------------------------------------------------
    def list(self) -> list[str]:
        """Names of the feature sets in the store, sorted."""
        return sorted(p.parent.name for p in self.root.glob(f"*/{feature_set.META_FILE}"))

    def set_dir(self, name: str) -> Path:
        """The directory of feature set ``name`` (which need not exist yet); refuses names that are paths."""
        return self.root / layout.check_name(name)

    def info(self, name: str) -> dict:
        """The feature set's metadata: spec, fingerprint, model identity, creator."""
        memo = self._pass
        if memo is not None and name in memo.meta:
            return memo.meta[name]
        meta = feature_set.load(self.set_dir(name))
        if memo is not None:
            memo.meta[name] = meta
        return meta

    @contextmanager
    def one_pass(self):
        """Within the block, each feature set's metadata is read and its layout checked once, not once per
        bucket: a whole-set read, a join or an epoch walks every bucket, and on an object store each check
        costs several requests. Every part is still verified as it is read."""
        if self._pass is not None:  # nested: the outer pass holds
            yield self
            return
        self._pass = _Pass()
        try:
            yield self
        finally:
            self._pass = None

    def _log(self, name: str, bucket: int) -> BucketLog:
        return BucketLog(self.set_dir(name), bucket, hashed=bool(self.info(name).get("log_hashes")))

    def bucket_state(self, name: str, bucket: int) -> BucketState:
        """The live files of one bucket."""
        return self._log(name, bucket).state()

    def states(self, name: str) -> list[BucketState]:
        """Live files of every bucket, after checking the feature set exists and its layout is intact."""
        self.check_layout(name)
        return [self.bucket_state(name, b) for b in range(self.n_buckets)]

    def check_layout(self, name: str) -> None:
        """Raise StoreError if the set's bucket count or bucket directories do not match the store."""
        memo = self._pass
        if memo is not None and name in memo.checked:
            return
        problems = set_problems(self.set_dir(name), self.n_buckets, self.info(name))
        if problems:
            path, problem = problems[0]
            raise StoreError(f"{self.set_dir(name) / path}: {problem}. {repair_hint(self.set_dir(name))}")
        if memo is not None:
            memo.checked.add(name)

    def runs(self, name: str) -> list[dict]:
        """Run reports of a feature set, oldest first (by start time: run ids order only to the second)."""
        reports = [json.loads(p.read_text()) for p in (self.set_dir(name) / "runs").glob("*.json")]
        return sorted(reports, key=lambda r: (r.get("started_at", 0), r.get("run_id", "")))

    def counts(self, name: str) -> dict:
        """Committed row and file counts, from the log alone (no data read)."""
        out = {"rows": 0, "errors": 0, "data_files": 0, "error_files": 0, "bytes": 0}
        for state in self.states(name):
            for entry in state.live.values():
                kind = entry["kind"]
                out["rows" if kind == "data" else "errors"] += entry["rows"]
                out["data_files" if kind == "data" else "error_files"] += 1
                out["bytes"] += entry["bytes"]
        return out

    # -- versions (see mmfeat.store.snapshots) ---------------------------------------------
    def version(self, name: str):
        """The set's current ``SetVersion`` (per-bucket log versions; ``.version``, their sum, is its commit
        count; ``.time``, its newest commit's). Every commit advances it."""
        from mmfeat.store.snapshots import current

        return current(self, name)

    def snapshot(self, names=None):
        """A ``Snapshot`` of the current versions of ``names`` (default: every set), for ``at``."""
        from mmfeat.store.snapshots import Snapshot

        return Snapshot({n: self.version(n) for n in (self.list() if names is None else names)})

    def at(self, when) -> "FeatureStore":
        """A read-only view of the store at ``when`` (time travel): a ``Snapshot`` or its ``to_dict()``, a
        ``SetVersion``, ``{name: version}``, a store-wide commit count (int) or a time (see
        ``mmfeat.store.pinned.pin``). Once vacuum deleted the parts a version used, reading it raises
        ``SnapshotExpiredError``."""
        from mmfeat.store.pinned import pin

        return pin(self, when)

    # -- integrity -------------------------------------------------------------------------
    def verify(self, name: str) -> list[tuple[str, str]]:
        """``(path, problem)`` for everything damaged: the set's layout, commit logs that do not replay
        (edited, truncated, missing versions, paths outside the set), committed files that are
        missing or fail their checksum, and visible files no commit references."""
        self.info(name)
        set_dir = self.set_dir(name)
        problems = set_problems(set_dir, self.n_buckets)
        for bucket in range(self.n_buckets):
            problems += self._bucket_problems(set_dir, bucket)
        return problems

    def _bucket_problems(self, set_dir: Path, bucket: int) -> list[tuple[str, str]]:
        log = BucketLog(set_dir, bucket)
        for attempt in range(READ_ATTEMPTS):
            time.sleep(0.05 * attempt)
            listed = visible_files(set_dir, bucket)
            try:
                state = log.state()
            except LogDamageError as exc:
                return [(exc.path.relative_to(set_dir).as_posix(), exc.problem)]
            problems = [(rel, p) for rel, e in state.live.items() if (p := verify_part(set_dir, e))]
            problems += strays(set_dir, listed, state)
            # A missing part or a stray can be a commit in flight (publish or trash pending): look again.
            if not any(p == "missing" or "stray" in p for _, p in problems):
                return problems
        return problems

    def repair(self, name: str) -> list[str]:
        """Take damage out of the store: restore a changed bucket count, quarantine out-of-range bucket
        dirs, damaged parts and stray files, and rebuild logs that do not replay (see
        ``mmfeat.store.repair``). Returns what was done; the next extract recomputes the missing rows."""
        done = self._restore_bucket_count(name)
        set_dir = self.set_dir(name)
        stamp = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{layout.new_run_id()[-8:]}"
        for rel, _ in set_problems(set_dir, self.n_buckets):
            if quarantine(set_dir, rel, stamp):
                done.append(rel)
        for bucket in range(self.n_buckets):
            done += repair_bucket(set_dir, bucket, stamp)
        return done

    def _restore_bucket_count(self, name: str) -> list[str]:
        recorded = self.info(name).get("n_buckets")
        if recorded is None or recorded == self.n_buckets:
            return []
        others = {n: self.info(n).get("n_buckets") for n in self.list()}
        disagree = {n: v for n, v in others.items() if v not in (None, recorded)}
        if disagree:
            raise StoreError(f"{self.root / layout.STORE_FILE}: says {self.n_buckets} buckets, {name!r} was written "
                             f"with {recorded} but {sorted(disagree)} with other counts; restore the file by hand")
        settings_file = self.root / layout.STORE_FILE
        from mmfeat.store.files import replace_json

        replace_json(settings_file, {**json.loads(settings_file.read_text()), "n_buckets": recorded})
        self.n_buckets = recorded
        return [f"../{layout.STORE_FILE}: n_buckets restored to {recorded}"]

    def vacuum(self, name: str, *, min_age_s: float = ORPHAN_MIN_AGE_S,
               older_than_s: float = TRASH_RETENTION_S) -> list[str]:
        """Delete what no commit needs: staged parts of lost or crashed commits and temp files once older
        than ``min_age_s``, and parts in ``_trash`` replaced more than ``older_than_s`` ago, which ends
        time travel (``at``) to the versions that used them (see ``mmfeat.store.orphans``)."""
        self.info(name)
        set_dir = self.set_dir(name)
        return [p for b in range(self.n_buckets)
                for p in remove_orphans(set_dir, BucketState(b), min_age_s=min_age_s, trash_min_age_s=older_than_s)]

    def compact(self, name: str, *, target_bytes: int = DEFAULT_TARGET_BYTES, min_files: int = 2) -> dict:
        """Merge each bucket's small parts into files of about ``target_bytes``, one atomic commit per bucket
        (see ``mmfeat.store.compact``). Returns totals and the buckets that lost every commit race."""
        self.check_layout(name)
        results = [compact_bucket(self.set_dir(name), b, target_bytes=target_bytes, min_files=min_files)
                   for b in range(self.n_buckets)]
        return {"merged": sum(r["merged"] for r in results), "written": sum(r["written"] for r in results),
                "buckets": sum(1 for r in results if r["version"]),
                "skipped": [r["bucket"] for r in results if r.get("skipped")]}

    # -- reading ---------------------------------------------------------------------------
    def read_bucket(self, name: str, bucket: int, *, kind: str = "data", columns=None, verify=True) -> pa.Table:
        """One bucket's committed rows of ``kind`` (``data`` or ``errors``).

        A part that a concurrent commit publishes or replaces is found where it
        went; a stray visible file or a part still missing after re-reading
        the log is damage, reported naming the file.
        """
        with self.one_pass():  # the set's metadata is read once, for the check and for the log
            self.check_layout(name)
            log = self._log(name, bucket)
        set_dir = self.set_dir(name)
        for attempt in range(READ_ATTEMPTS):
            time.sleep(0.05 * attempt)
            listed = visible_files(set_dir, bucket)
            state = log.state()
            try:
                tables = [read_part(set_dir, e, columns, verify) for e in state.files(kind)]
            except PartMissingError as exc:
                problem = exc
                continue
            found = strays(set_dir, listed, state)
            if found:
                problem = StoreError(f"{set_dir / found[0][0]}: {found[0][1]}. {repair_hint(set_dir)}")
                continue
            break
        else:
            raise problem
        return bucket_table(tables, kind, columns)

    def _read_all(self, name, kind, columns, verify) -> pa.Table:
        with self.one_pass():
            self.info(name)
            tables = [self.read_bucket(name, b, kind=kind, columns=columns, verify=verify)
                      for b in range(self.n_buckets)]
        non_empty = [t for t in tables if t.num_rows] or tables[:1]
        return pa.concat_tables(non_empty, promote_options="permissive")

    def read(self, name: str, *, columns=None, verify: bool = True) -> pa.Table:
        """All rows of a feature set: ``id``, ``embedding`` (fixed-size list), ``content_key``,
        ``chunks`` where kept, and ``event_timestamp`` (null for parts written before it existed)."""
        return self._read_all(name, "data", columns, verify)

    def errors(self, name: str, *, verify: bool = True) -> pa.Table:
        """Current error rows: ``id``, ``stage``, ``reason``, ``source``, ``line``, ``run_id``, ``content_key``,
        ``fingerprint`` (the last two null for rows written before they existed)."""
        return self._read_all(name, "errors", None, verify)

    def to_numpy(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, vectors)``: an object array of ids and a (n, dim) float array."""
        table = self.read(name, columns=["id", "embedding"])
        return np.asarray(table["id"].to_pylist(), dtype=object), embedding_matrix(table["embedding"])

    def to_pandas(self, name: str):
        """The feature set as a DataFrame (embedding cells are numpy arrays)."""
        return self.read(name).to_pandas()

    def join(self, names: list[str], *, how: str = "inner", chunks: bool = False) -> pa.Table:
        """Join feature sets by id, bucket by bucket: columns ``id`` then one per set
        (and ``<name>.chunks`` for sets that keep chunks, with ``chunks=True``).

        ``how="inner"`` keeps ids present in every set; ``"outer"`` keeps all ids,
        with null where a set lacks one (a missing modality).
        """
        pieces = list(self.join_buckets(names, how=how, chunks=chunks))
        # Buckets where a set has no rows carry a generic list type; cast them to the set's real one.
        fields = []
        for i, name in enumerate(pieces[0].schema.names):
            types = [p.schema.field(i).type for p in pieces if p.num_rows]
            fields.append(pa.field(name, types[0] if types else pieces[0].schema.field(i).type))
        schema = pa.schema(fields)
        return pa.concat_tables([p.cast(schema) for p in pieces])

    def join_buckets(self, names: list[str], *, how: str = "inner", chunks: bool = False, ids_only: bool = False):
        """Yield the join of ``names`` one bucket at a time (memory bounded by a bucket).

        Columns: ``id``, one embedding column per set and, with ``chunks``, a
        ``<name>.chunks`` column for each set that keeps per-window vectors.
        """
        with self.one_pass():
            for bucket in range(self.n_buckets):
                yield self.join_bucket(names, bucket, how=how, chunks=chunks, ids_only=ids_only)

    def join_bucket(self, names: list[str], bucket: int, *, how: str = "inner", chunks: bool = False,
                    ids_only: bool = False) -> pa.Table:
        """The join of ``names`` within one bucket (see ``join_buckets``). The row order is deterministic.

        With ``ids_only`` only the id columns are read, and each set's column is a
        boolean: whether the set has the id.
        """
        import pyarrow.compute as pc

        if how not in ("inner", "outer"):
            raise ValueError(f"how must be 'inner' or 'outer', got {how!r}")
        infos = {n: self.info(n) for n in names}  # fails on an unknown name
        with_chunks = {n for n in names if chunks and infos[n]["spec"]["encoder"].get("keep_chunks")}
        tables = [self.read_bucket(n, bucket, columns=["id"] if ids_only else
                                   ["id", "embedding", *(["chunks"] if n in with_chunks else [])])
                  for n in names]
        keys = [t["id"].combine_chunks() for t in tables]
        if how == "inner":
            ids = keys[0]
            for other in keys[1:]:
                ids = ids.filter(pc.is_in(ids, value_set=other))
        else:  # every id once, in order of first appearance
            ids = pc.unique(pa.concat_arrays(keys)) if keys else pa.array([], pa.string())
        columns = {"id": ids.cast(pa.string())}
        for name, table, key in zip(names, tables, keys):
            take = pc.index_in(ids, value_set=key)
            if ids_only:
                columns[name] = take.is_valid()
                continue
            columns[name] = table["embedding"].take(take)
            if name in with_chunks:
                columns[f"{name}.chunks"] = table["chunks"].take(take)
        return pa.table(columns)


def bucket_table(tables: list, kind: str, columns=None) -> pa.Table:
    """One bucket's parts as one table; with no parts, the empty table of ``kind`` (``columns`` only)."""
    if not tables:
        schema = EMPTY_DATA if kind == "data" else ERRORS_SCHEMA
        return schema.empty_table().select(columns) if columns else schema.empty_table()
    return pa.concat_tables(tables, promote_options="permissive")


def embedding_matrix(column) -> np.ndarray:
    """A fixed-size-list (or equal-length list) column as a (n, dim) numpy array, zero-copy when possible."""
    chunked = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(chunked) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    if pa.types.is_fixed_size_list(chunked.type):
        dim = chunked.type.list_size
        return chunked.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)
    return np.stack([np.asarray(v, dtype=np.float32) for v in chunked.to_pylist()])
