"""``FeatureStore``: the Python API over a store root holding many feature sets."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from mmfeat.store import feature_set, layout
from mmfeat.store.bucket_log import BucketLog, BucketState
from mmfeat.store.orphans import ORPHAN_MIN_AGE_S, remove_orphans
from mmfeat.store.parts import ERRORS_SCHEMA, read_part, verify_part

EMPTY_DATA = pa.schema([("id", pa.string()), ("embedding", pa.list_(pa.float32())), ("content_key", pa.string()),
                        ("chunks", pa.list_(pa.list_(pa.float32())))])


class FeatureStore:
    """A directory of feature sets sharing one bucket layout.

    ``FeatureStore(root)`` opens an existing store; ``create=True`` makes one
    (with ``n_buckets``, default 16, fixed for its lifetime). Reads see only
    committed files and verify each one's sha256 unless ``verify=False``.
    """

    def __init__(self, root, *, create: bool = False, n_buckets: int | None = None):
        self.root, self.n_buckets = layout.open_root(root, create=create, n_buckets=n_buckets)

    def __repr__(self):
        return f"FeatureStore({str(self.root)!r}, n_buckets={self.n_buckets})"

    # -- discovery -------------------------------------------------------------------------
    def list(self) -> list[str]:
        """Names of the feature sets in the store, sorted."""
        return sorted(p.parent.name for p in self.root.glob(f"*/{feature_set.META_FILE}"))

    def set_dir(self, name: str) -> Path:
        """The directory of feature set ``name`` (which need not exist yet)."""
        return self.root / name

    def info(self, name: str) -> dict:
        """The feature set's metadata: spec, fingerprint, model identity, creator."""
        return feature_set.load(self.set_dir(name))

    def bucket_state(self, name: str, bucket: int) -> BucketState:
        """The live files of one bucket."""
        return BucketLog(self.set_dir(name), bucket).state()

    def states(self, name: str) -> list[BucketState]:
        """Live files of every bucket, after checking the feature set exists."""
        self.info(name)
        return [self.bucket_state(name, b) for b in range(self.n_buckets)]

    def runs(self, name: str) -> list[dict]:
        """Run reports of a feature set, oldest first."""
        paths = sorted((self.set_dir(name) / "runs").glob("*.json"))
        return [json.loads(p.read_text()) for p in paths]

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

    # -- integrity -------------------------------------------------------------------------
    def verify(self, name: str) -> list[tuple[str, str]]:
        """``(path, problem)`` for every committed file that is missing or fails its checksum."""
        problems = []
        for state in self.states(name):
            for entry in state.live.values():
                problem = verify_part(self.set_dir(name), entry)
                if problem:
                    problems.append((entry["path"], problem))
        return problems

    def repair(self, name: str) -> list[str]:
        """Drop damaged files from the store (one commit per bucket); the next extract recomputes their rows."""
        dropped = []
        for state in self.states(name):
            bad = [p for p, e in state.live.items() if verify_part(self.set_dir(name), e)]
            if bad:
                BucketLog(self.set_dir(name), state.bucket).commit(state, add=[], remove=bad, info={"repair": True})
                dropped.extend(bad)
        return dropped

    def vacuum(self, name: str, *, min_age_s: float = ORPHAN_MIN_AGE_S) -> list[str]:
        """Delete files of crashed writers that no commit references (see ``mmfeat.store.orphans``)."""
        return [p for s in self.states(name) for p in remove_orphans(self.set_dir(name), s, min_age_s=min_age_s)]

    # -- reading ---------------------------------------------------------------------------
    def read_bucket(self, name: str, bucket: int, *, kind: str = "data", columns=None, verify=True) -> pa.Table:
        """One bucket's committed rows of ``kind`` (``data`` or ``errors``)."""
        state = self.bucket_state(name, bucket)
        tables = [read_part(self.set_dir(name), e, columns, verify) for e in state.files(kind)]
        if not tables:
            schema = EMPTY_DATA if kind == "data" else ERRORS_SCHEMA
            return schema.empty_table().select(columns) if columns else schema.empty_table()
        return pa.concat_tables(tables, promote_options="permissive")

    def _read_all(self, name, kind, columns, verify) -> pa.Table:
        self.info(name)
        tables = [self.read_bucket(name, b, kind=kind, columns=columns, verify=verify) for b in range(self.n_buckets)]
        non_empty = [t for t in tables if t.num_rows] or tables[:1]
        return pa.concat_tables(non_empty, promote_options="permissive")

    def read(self, name: str, *, columns=None, verify: bool = True) -> pa.Table:
        """All rows of a feature set: ``id``, ``embedding`` (fixed-size list), ``content_key``."""
        return self._read_all(name, "data", columns, verify)

    def errors(self, name: str, *, verify: bool = True) -> pa.Table:
        """Current error rows: ``id``, ``stage``, ``reason``, ``source``, ``line``, ``run_id``."""
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

    def join_buckets(self, names: list[str], *, how: str = "inner", chunks: bool = False):
        """Yield the join of ``names`` one bucket at a time (memory bounded by a bucket).

        Columns: ``id``, one embedding column per set and, with ``chunks``, a
        ``<name>.chunks`` column for each set that keeps per-window vectors.
        """
        for bucket in range(self.n_buckets):
            yield self.join_bucket(names, bucket, how=how, chunks=chunks)

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


def embedding_matrix(column) -> np.ndarray:
    """A fixed-size-list (or equal-length list) column as a (n, dim) numpy array, zero-copy when possible."""
    chunked = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(chunked) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    if pa.types.is_fixed_size_list(chunked.type):
        dim = chunked.type.list_size
        return chunked.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)
    return np.stack([np.asarray(v, dtype=np.float32) for v in chunked.to_pylist()])
