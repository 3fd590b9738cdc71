"""Training data: feature sets joined by id (bucket-wise), masks for missing modalities, labels, split.

Features are joined with an outer join so an id missing from a feature set is a
missing modality (mask 0, zero vector), not a dropped row; ``complete_cases``
keeps only ids present in every set. Ids without a label are not training data;
labelled ids with no feature at all are counted and left out.
"""
import hashlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from mmfeat.errors import MmfeatError
from mmfeat.store.store import embedding_matrix

SPLITS = ("train", "val", "test")


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

    def rows(self, part: str) -> np.ndarray:
        return np.flatnonzero(self.split == SPLITS.index(part))

    @property
    def dims(self) -> dict:
        """Vector length of each feature set."""
        return {n: self.x[n].shape[1] for n in self.names}


def hash_unit(id_: str, seed: int) -> float:
    """A deterministic uniform number in [0, 1) for ``id_`` (the hash split)."""
    digest = hashlib.blake2b(f"{seed}:{id_}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64


def assign_split(ids, values, labels_cfg) -> np.ndarray:
    """0/1/2 per id from the split column, or from id hashes; val carved from train when absent."""
    if labels_cfg.split_column:
        lookup = {"train": 0, "val": 1, "valid": 1, "validation": 1, "dev": 1, "test": 2}
        bad = sorted({str(v) for v in values if str(v).lower() not in lookup})
        if bad:
            raise MmfeatError(f"{labels_cfg.path}: column {labels_cfg.split_column!r} has values "
                              f"{', '.join(bad[:5])}; use train, val or test")
        split = np.array([lookup[str(v).lower()] for v in values])
        if not (split == 1).any():  # no val rows: carve them out of train, deterministically
            carve = np.array([hash_unit(i, labels_cfg.seed) < labels_cfg.val for i in ids])
            split[(split == 0) & carve] = 1
        return split
    u = np.array([hash_unit(i, labels_cfg.seed) for i in ids])
    return np.where(u < labels_cfg.test, 2, np.where(u < labels_cfg.test + labels_cfg.val, 1, 0))


def encode_targets(values, task: str):
    """Targets as arrays: class indices (multiclass), a 0/1 matrix (multilabel), floats (regression)."""
    if task == "regression":
        return np.asarray(values, dtype=np.float32), None
    if task == "multilabel":
        sets = [v if isinstance(v, list) else str(v).split("|") for v in values]
        classes = sorted({str(c) for s in sets for c in s if str(c)})
        index = {c: k for k, c in enumerate(classes)}
        y = np.zeros((len(sets), len(classes)), np.float32)
        for row, s in enumerate(sets):
            for c in s:
                if str(c):
                    y[row, index[str(c)]] = 1
        return y, classes
    classes = sorted({str(v) for v in values}, key=lambda c: (len(c), c))
    index = {c: k for k, c in enumerate(classes)}
    return np.array([index[str(v)] for v in values], dtype=np.int64), classes


def load_dataset(store, names, labels_cfg, task: str, complete_cases: bool = False) -> Dataset:
    """Join ``names`` from ``store`` with the labels table into a Dataset.

    Rows are ordered train, val, test, so each split is a contiguous slice and
    its tensors are views of the arrays rather than copies.
    """
    import pyarrow.compute as pc

    from mmfeat.tables import read_table

    columns = [labels_cfg.column] + ([labels_cfg.split_column] if labels_cfg.split_column else [])
    labels = read_table(labels_cfg.path, id_column=labels_cfg.id_column, columns=columns)
    joined = store.join(list(names), how="inner" if complete_cases else "outer")
    position = pc.index_in(labels[labels_cfg.id_column], value_set=joined["id"].combine_chunks())
    n_labelled = labels.num_rows
    keep_mask = pc.and_(position.is_valid(), labels[labels_cfg.column].is_valid())
    labels, position = labels.filter(keep_mask), position.filter(keep_mask)
    n = labels.num_rows
    if not n:
        raise MmfeatError(f"{labels_cfg.path}: no labelled id has features in {', '.join(names)}")
    ids = np.array(labels[labels_cfg.id_column].to_pylist(), dtype=object)
    split_values = labels[labels_cfg.split_column].to_pylist() if labels_cfg.split_column else None
    split = assign_split(ids, split_values, labels_cfg)
    order = np.argsort(split, kind="stable")
    rows = position.to_numpy(zero_copy_only=False)[order].astype(np.int64)
    x, mask = {}, np.zeros((n, len(names)), np.float32)
    for m, name in enumerate(names):
        column = joined[name].combine_chunks()
        if column.null_count:  # missing modality for some ids: zeros, masked out
            valid_all = column.is_valid().to_numpy(zero_copy_only=False)
            full = np.zeros((len(column), column.type.list_size), np.float32)
            if valid_all.any():
                full[valid_all] = embedding_matrix(column.filter(pa.array(valid_all)))
            valid = valid_all[rows]
        else:
            full, valid = embedding_matrix(column), np.ones(n, bool)
        if not valid.any():
            raise MmfeatError(f"feature set {name!r} has no rows for the ids in {labels_cfg.path}")
        x[name], mask[:, m] = np.ascontiguousarray(full[rows], np.float32), valid  # one owned, writable copy
    y, classes = encode_targets(labels[labels_cfg.column].take(pa.array(order)).to_pylist(), task)
    ids, split = ids[order], split[order]
    counts = {"labelled": n_labelled, "used": n, "no_features": n_labelled - n,
              **{f"n_{s}": int((split == i).sum()) for i, s in enumerate(SPLITS)},
              "present": {name: int(mask[:, m].sum()) for m, name in enumerate(names)}}
    return Dataset(ids, list(names), x, mask, y, split, classes, counts)
