"""Write given vectors into a feature set bucket by bucket, each bucket replaced in one commit.

Used by ``mmfeat predict`` (predictions are computed bucket-wise from the inputs)
and to load vectors computed elsewhere into a store.
"""
import numpy as np

from mmfeat.buckets import bucket_of
from mmfeat.errors import CommitConflictError
from mmfeat.store import feature_set
from mmfeat.store.bucket_log import BucketLog
from mmfeat.store.layout import bucket_dir, new_run_id
from mmfeat.store.parts import data_table, discard, write_part


def replace_bucket(set_dir, bucket: int, ids, vectors, content_keys, *, run_id: str, info: dict, chunks=None):
    """Make ``ids``/``vectors`` (and ``chunks``) the bucket's only data (one commit); return the version or None."""
    log = BucketLog(set_dir, bucket)
    state = log.state()
    add, remove = [], [e["path"] for e in state.files("data")]
    if len(ids):
        path = bucket_dir(set_dir, "data", bucket) / f"part-{run_id}-{state.version + 1:08d}.parquet"
        table = data_table(list(ids), np.asarray(vectors, np.float32), list(content_keys), chunks)
        add.append(write_part(table, path, "data", set_dir))
    if not (add or remove):
        return None
    try:
        return log.commit(state, add=add, remove=remove, info={"run_id": run_id, **info})
    except CommitConflictError:
        discard(set_dir, add)
        raise


def write_vectors(store, spec, ids, vectors, *, content_keys=None, identity=None, chunks=None) -> str:
    """Store ``vectors`` (n, d) for ``ids`` as feature set ``spec.name``, replacing each touched bucket.

    ``chunks``: per-id (k_i, d) arrays, for feature sets whose spec keeps chunks.
    """
    identity = {} if identity is None else identity
    fingerprint = spec.fingerprint(identity)
    set_dir = store.set_dir(spec.name)
    feature_set.ensure(set_dir, spec, fingerprint, identity)
    content_keys = content_keys if content_keys is not None else [f"given:{i}" for i in ids]
    by_bucket = {}
    for k, id_ in enumerate(ids):
        by_bucket.setdefault(bucket_of(id_, store.n_buckets), []).append(k)
    run_id = new_run_id()
    for bucket, rows in sorted(by_bucket.items()):
        replace_bucket(set_dir, bucket, [ids[k] for k in rows], vectors[rows], [content_keys[k] for k in rows],
                       run_id=run_id, info={"fingerprint": fingerprint},
                       chunks=[chunks[k] for k in rows] if chunks is not None else None)
    return run_id
