"""mmfeat: extract multimodal embeddings with Apache Beam into a Parquet feature store.

``import mmfeat`` stays light: nothing heavy (torch, transformers, pyarrow, Beam) is
imported until one of the public names below is first used.
"""
from importlib import import_module

from mmfeat.version import __version__

_LAZY = {
    "FeatureStore": "mmfeat.store",
    "FeatureSpec": "mmfeat.spec",
    "load_spec": "mmfeat.spec",
    "bucket_of": "mmfeat.buckets",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mmfeat' has no attribute {name!r}")
