"""Put given vectors into a store through its own writer, without an extraction run."""

from mmfeat.buckets import bucket_of
from mmfeat.spec import FeatureSpec
from mmfeat.store import feature_set
from mmfeat.store.bucket_log import BucketLog
from mmfeat.store.layout import bucket_dir
from mmfeat.store.parts import data_table, write_part


def put(store, name, ids, vectors):
    """Commit ``vectors`` for ``ids`` into feature set ``name`` through the store's own writer."""
    spec = FeatureSpec.from_dict({"name": name, "modality": "image", "input": {"column": "image"},
                                  "encoder": {"kind": "pixels", "size": 4}})
    set_dir = store.set_dir(name)
    feature_set.ensure(set_dir, spec, spec.fingerprint(), {})
    for b in range(store.n_buckets):
        rows = [k for k, i in enumerate(ids) if bucket_of(i, store.n_buckets) == b]
        if rows:
            table = data_table([ids[k] for k in rows], vectors[rows], [f"ck{k}" for k in rows])
            entry = write_part(table, bucket_dir(set_dir, "data", b) / "part-t.parquet", "data", set_dir)
            log = BucketLog(set_dir, b)
            log.commit(log.state(), add=[entry], remove=[], info={})
