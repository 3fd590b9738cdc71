"""The feature store: committed Parquet parts per bucket, a commit log, run reports."""
from mmfeat.store.store import FeatureStore

__all__ = ["FeatureStore"]
