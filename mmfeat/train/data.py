"""Training data: feature sets joined by id (bucket-wise), masks for missing modalities, labels, split.

Features are joined with an outer join so an id missing from a feature set is a
missing modality (mask 0, zero vector), not a dropped row; ``complete_cases``
keeps only ids present in every set. Ids without a label are not training data;
labelled ids with no feature at all are counted and left out.
"""
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from mmfeat.errors import MmfeatError
from mmfeat.train.columns import column_arrays, label_columns
from mmfeat.train.splits import SPLITS, assign_split, group_counts, group_values
from mmfeat.train.targets import encode_targets


@dataclass
class Dataset:
    """In-memory arrays: ``x[name]`` (n, d) float32, ``mask`` (n, M), ``y``, ``split`` (n,) of 0/1/2."""

    ids: np.ndarray
    names: list
    x: dict
    mask: np.ndarray
    y: np.ndarray
    split: np.ndarray
    classes: list | None
    counts: dict
    groups: np.ndarray | None = None

    def rows(self, part: str) -> np.ndarray:
        return np.flatnonzero(self.split == SPLITS.index(part))

    @property
    def dims(self) -> dict:
        """Vector length of each feature set."""
        return {n: self.x[n].shape[-1] for n in self.names}

    def part(self, rows, names):
        """A batch source for ``fit`` over ``rows`` and ``names``."""
        from mmfeat.train.batches import InMemory
        from mmfeat.train.tensors import tensors

        return InMemory(*tensors(self, rows, names))

    def logits(self, model_fn, rows, masks, names) -> list:
        """``model_fn(xs, mask)`` (numpy in, numpy out) over ``rows``, once per mask in ``masks``."""
        xs = [self.x[n][rows] for n in names]
        return [model_fn(xs, mask) for mask in masks]


def load_dataset(store, names, labels_cfg, task: str, complete_cases: bool = False, sequences=(),
                 max_chunks: int = 64) -> Dataset:
    """Join ``names`` from ``store`` with the labels table into a Dataset.

    For names in ``sequences`` (feature sets that keep chunks) ``x[name]`` is the
    (n, L, d) zero-padded chunk sequence instead of the pooled vector.

    Rows are ordered train, val, test, so each split is a contiguous slice and
    its tensors are views of the arrays rather than copies.
    """
    import pyarrow.compute as pc

    from mmfeat.tables import read_table

    labels = read_table(labels_cfg.path, id_column=labels_cfg.id_column, columns=label_columns(labels_cfg),
                        where="labels")
    joined = store.join(list(names), how="inner" if complete_cases else "outer", chunks=bool(sequences))
    missing = [n for n in sequences if f"{n}.chunks" not in joined.column_names]
    if missing:
        raise MmfeatError(f"sequences: {', '.join(missing)} keep no chunks; extract them with keep_chunks: true")
    position = pc.index_in(labels[labels_cfg.id_column], value_set=joined["id"].combine_chunks())
    n_labelled = labels.num_rows
    keep_mask = pc.and_(position.is_valid(), labels[labels_cfg.column].is_valid())
    labels, position = labels.filter(keep_mask), position.filter(keep_mask)
    n = labels.num_rows
    if not n:
        raise MmfeatError(f"{labels_cfg.path}: no labelled id has features in {', '.join(names)}")
    ids = np.array(labels[labels_cfg.id_column].to_pylist(), dtype=object)
    split_values = labels[labels_cfg.split_column].to_pylist() if labels_cfg.split_column else None
    groups = group_values(labels, labels_cfg)
    split = assign_split(ids, split_values, labels_cfg, groups)
    order = np.argsort(split, kind="stable")
    rows = position.to_numpy(zero_copy_only=False)[order].astype(np.int64)
    x, mask = {}, np.zeros((n, len(names)), np.float32)
    for m, name in enumerate(names):
        full, valid = column_arrays(joined, name, sequence=name in sequences, max_chunks=max_chunks)
        if not valid[rows].any():
            raise MmfeatError(f"feature set {name!r} has no rows for the ids in {labels_cfg.path}")
        x[name], mask[:, m] = np.ascontiguousarray(full[rows], np.float32), valid[rows]  # owned, writable copy
    y, classes = encode_targets(labels[labels_cfg.column].take(pa.array(order)).to_pylist(), task,
                                f"{labels_cfg.path}: labels.column {labels_cfg.column!r}", ids[order])
    ids, split = ids[order], split[order]
    groups = groups[order] if groups is not None else None
    counts = {"labelled": n_labelled, "used": n, "no_features": n_labelled - n,
              **{f"n_{s}": int((split == i).sum()) for i, s in enumerate(SPLITS)},
              "present": {name: int(mask[:, m].sum()) for m, name in enumerate(names)},
              **group_counts(split, groups)}
    return Dataset(ids, list(names), x, mask, y, split, classes, counts, groups)


def open_data(cfg, store, names=None):
    """The run's data: an in-memory Dataset, or a StoreStream with ``loader: stream``."""
    names = list(names or cfg.features)
    if cfg.loader == "stream":
        from mmfeat.train.stream import StoreStream

        return StoreStream(store, names, cfg.labels, cfg.task, cfg.complete_cases)
    return load_dataset(store, names, cfg.labels, cfg.task, cfg.complete_cases, cfg.sequences, cfg.max_chunks)
