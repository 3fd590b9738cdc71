"""Put given vectors into a store through its own writer, without an extraction run."""
from mmfeat.spec import FeatureSpec
from mmfeat.store.vectors import write_vectors


def put(store, name, ids, vectors):
    """Commit ``vectors`` for ``ids`` into feature set ``name`` (its spec is a stand-in ``pixels`` spec)."""
    spec = FeatureSpec.from_dict({"name": name, "modality": "image", "input": {"column": "image"},
                                  "encoder": {"kind": "pixels", "size": 4}})
    write_vectors(store, spec, ids, vectors, content_keys=[f"ck{k}" for k in range(len(ids))])
