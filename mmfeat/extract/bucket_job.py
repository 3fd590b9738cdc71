"""One bucket of one run: skip what the store has, encode the rest once, commit.

The bucket is the unit of work and of commit. Everything it writes (a data part,
a refreshed errors part) becomes visible in one log commit, and its stats file
is written after that commit, so a run killed at any point leaves each bucket
either committed or untouched; a rerun skips what was committed.
"""
import functools
import logging
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmfeat.extract.dedup import resolve_duplicate_ids
from mmfeat.extract.encoding import encode_values
from mmfeat.records import ErrorRow
from mmfeat.store import FeatureStore
from mmfeat.store.bucket_log import BucketLog
from mmfeat.store.files import replace_json
from mmfeat.store.layout import bucket_dir
from mmfeat.store.orphans import remove_orphans
from mmfeat.store.parts import data_table, errors_table, read_part, write_part
from mmfeat.store.store import embedding_matrix

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunContext:
    """What every bucket of a run shares. Small and picklable: it travels to workers."""

    store_root: str
    spec: object
    fingerprint: str
    run_id: str


def reason_key(row: ErrorRow) -> str:
    """Histogram key for an error: its stage and reason with numbers and paths blurred."""
    reason = re.sub(r"\d+", "N", row.reason.split(" (")[0])
    return f"{row.stage}: {reason}"


class BucketJob:
    """Processes every element of one bucket; ``run`` returns the bucket's stats."""

    def __init__(self, ctx: RunContext, bucket: int, get_encoder):
        self.ctx, self.bucket, self.get_encoder = ctx, bucket, get_encoder
        self.store = FeatureStore(ctx.store_root)
        self.set_dir = self.store.set_dir(ctx.spec.name)
        self.log = BucketLog(self.set_dir, bucket)
        self.state = self.log.state()
        self.seconds = Counter()
        self.skipped = Counter()
        self.errors: list[ErrorRow] = []

    def run(self, elements) -> dict:
        t_start = time.perf_counter()
        candidates = []
        for element in elements:
            (self.errors if isinstance(element, ErrorRow) else candidates).append(element)
        n_input = len(candidates) + len(self.errors)
        touched = {e.id for e in self.errors} | {c.id for c in candidates}
        unique, n_dup, dup_errors = resolve_duplicate_ids(candidates)
        self.errors.extend(dup_errors)
        self.skipped["duplicate id in input"] += n_dup
        todo, replaced = self._against_store(unique)
        ids, vectors, ckeys, stats = self._vectors_for(todo)
        version = self._commit(ids, vectors, ckeys, replaced, touched)
        stats.update(self._counts(n_input, len(ids), version, t_start))
        replace_json(self.set_dir / "_runs" / self.ctx.run_id / f"bucket={self.bucket:05d}.json", stats)
        log.info("%s bucket %d/%d: %d in, %d ok, %d errors, %d skipped", self.ctx.spec.name, self.bucket + 1,
                 self.store.n_buckets, n_input, stats["n_ok"], stats["n_error"], stats["n_skipped"])
        return stats

    def _existing(self, columns) -> pa.Table:
        tables = [read_part(self.set_dir, e, columns, verify=False) for e in self.state.files("data")]
        return pa.concat_tables(tables) if tables else None

    @functools.cached_property
    def _stored_rows(self) -> pa.Table:
        """The bucket's committed rows, all columns; read at most once, and only if vectors are reused or replaced."""
        return self._existing(None)

    def _against_store(self, unique):
        """Drop candidates the store already has with the same content; note ids whose content changed."""
        table = self._existing(["id", "content_key"])
        stored = dict(zip(table["id"].to_pylist(), table["content_key"].to_pylist())) if table else {}
        self._stored_ckeys = set(stored.values())
        todo, replaced = [], set()
        for c in unique:
            previous = stored.get(c.id)
            if previous == c.ckey:
                self.skipped["already in store"] += 1
                continue
            if previous is not None:
                replaced.add(c.id)
            todo.append(c)
        return todo, replaced

    def _vectors_for(self, todo):
        """Outputs for ``todo``: identical contents encoded once, contents the store has copied.

        An output is ``(vector, chunks)``; ``chunks`` is None unless the feature set keeps them.
        """
        by_content = defaultdict(list)
        for c in todo:
            by_content[c.ckey].append(c)
        outputs = self._stored_outputs(set(by_content) & self._stored_ckeys)
        to_encode = [k for k in by_content if k not in outputs]
        stats = {"n_encoded": 0, "n_batches": 0, "n_reused": 0}
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
                    self.errors.extend(ErrorRow(c.id, stage, reason, c.source, c.line) for c in by_content[key])
            stats.update(n_encoded=len(result.vectors), n_batches=result.n_batches)
        ids, rows, ckeys = [], [], []
        for key, group in by_content.items():
            if key in outputs:
                for c in group:
                    ids.append(c.id), rows.append(outputs[key]), ckeys.append(key)
        stats["n_reused"] = len(ids) - stats["n_encoded"]
        return ids, rows, ckeys, stats

    def _stored_outputs(self, keys: set) -> dict:
        if not keys:
            return {}
        table = self._stored_rows
        matrix = embedding_matrix(table["embedding"])
        chunks = table["chunks"] if self.ctx.spec.keeps_chunks else None
        return {k: (matrix[i], embedding_matrix(chunks[i].values) if chunks is not None else None)
                for i, k in enumerate(table["content_key"].to_pylist()) if k in keys}

    def _commit(self, ids, rows, ckeys, replaced, touched):
        """Publish the new data part and refreshed errors in one commit; None if nothing changed."""
        t0 = time.perf_counter()
        add, remove = [], []
        name = f"part-{self.ctx.run_id}-{self.state.version + 1:08d}.parquet"
        if ids:
            chunks = [r[1] for r in rows] if self.ctx.spec.keeps_chunks else None
            table = data_table(ids, np.stack([r[0] for r in rows]), ckeys, chunks)
            if replaced:
                # Changed contents: rewrite the bucket without the superseded rows.
                kept = self._stored_rows
                kept = kept.filter(pc.invert(pc.is_in(kept["id"], pa.array(sorted(replaced)))))
                table = pa.concat_tables([kept.cast(table.schema), table])
                remove += [e["path"] for e in self.state.files("data")]
            add.append(write_part(table, bucket_dir(self.set_dir, "data", self.bucket) / name, "data", self.set_dir))
        add_err, remove_err = self._refresh_errors(touched, name)
        add += add_err
        remove += remove_err
        version = None
        if add or remove:
            info = {"run_id": self.ctx.run_id, "fingerprint": self.ctx.fingerprint, "time": time.time()}
            try:
                version = self.log.commit(self.state, add=add, remove=remove, info=info)
            except Exception:
                for entry in add:  # never published; do not leave them behind
                    (self.set_dir / entry["path"]).unlink(missing_ok=True)
                raise
            for path in remove:
                (self.set_dir / path).unlink(missing_ok=True)
        remove_orphans(self.set_dir, self.log.state() if version else self.state)
        self.seconds["write"] += time.perf_counter() - t0
        return version

    def _refresh_errors(self, touched: set, name: str):
        """Errors of ids this run saw are replaced by this run's verdict; others are kept."""
        old_entries = self.state.files("errors")
        old = [read_part(self.set_dir, e, None, verify=False) for e in old_entries]
        kept = pa.concat_tables(old) if old else None
        n_old = kept.num_rows if kept is not None else 0
        if kept is not None:
            kept = kept.filter(pc.invert(pc.is_in(kept["id"], pa.array(sorted(touched), pa.string()))))
        if not self.errors and (kept is None or kept.num_rows == n_old):
            return [], []
        table = errors_table(self.errors, self.ctx.run_id)
        if kept is not None and kept.num_rows:
            table = pa.concat_tables([kept, table])
        add = []
        if table.num_rows:
            path = bucket_dir(self.set_dir, "errors", self.bucket) / name
            add.append(write_part(table, path, "errors", self.set_dir))
        return add, [e["path"] for e in old_entries]

    def _counts(self, n_input, n_ok, version, t_start) -> dict:
        n_error, n_skipped = len(self.errors), sum(self.skipped.values())
        if n_input != n_ok + n_error + n_skipped:
            raise RuntimeError(f"bucket {self.bucket}: {n_input} inputs but {n_ok} ok + {n_error} errors + "
                               f"{n_skipped} skipped; this is a bug in mmfeat, please report it")
        self.seconds["total"] = time.perf_counter() - t_start
        return {"bucket": self.bucket, "n_input": n_input, "n_ok": n_ok, "n_error": n_error,
                "n_skipped": n_skipped, "skipped_by_reason": dict(self.skipped),
                "errors_by_reason": dict(Counter(reason_key(e) for e in self.errors)),
                "committed_version": version, "seconds": {k: round(v, 4) for k, v in self.seconds.items()}}
