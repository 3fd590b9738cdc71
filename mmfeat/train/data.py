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


def padded_chunks(column, max_chunks: int) -> tuple[np.ndarray, np.ndarray]:
    """A ``list<fixed_size_list>`` column as (n, L, d) float32 zero-padded sequences and a presence flag.

    L is the longest sequence, capped at ``max_chunks`` (longer ones keep their first
    ``max_chunks`` chunks). Padding is all-zero rows, which is how models tell it apart.
    """
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    offsets = column.offsets.to_numpy()
    lengths = np.where(valid, np.minimum(np.diff(offsets), max_chunks), 0)
    values = embedding_matrix(column.values)
    out = np.zeros((len(column), max(int(lengths.max(initial=0)), 1), values.shape[1] if values.size else 0),
                   np.float32)
    for i in np.flatnonzero(lengths):
        out[i, :lengths[i]] = values[offsets[i]:offsets[i] + lengths[i]]
    return out, valid & (lengths > 0)


def column_arrays(table: pa.Table, name: str, *, sequence: bool = False, max_chunks: int = 64,
                  dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Feature set ``name`` of a joined table as dense arrays and a presence flag per row.

    Pooled vectors give (n, d) with zero rows where the set lacks the id; with
    ``sequence`` the ``<name>.chunks`` column gives zero-padded (n, L, d) sequences.
    """
    if sequence:
        return padded_chunks(table[f"{name}.chunks"], max_chunks)
    column = table[name].combine_chunks()
    if not column.null_count:
        return embedding_matrix(column), np.ones(len(column), bool)
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    out = np.zeros((len(column), dim or column.type.list_size), np.float32)
    if valid.any():
        out[valid] = embedding_matrix(column.filter(pa.array(valid)))
    return out, valid


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

    columns = [labels_cfg.column] + ([labels_cfg.split_column] if labels_cfg.split_column else [])
    labels = read_table(labels_cfg.path, id_column=labels_cfg.id_column, columns=columns)
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
    split = assign_split(ids, split_values, labels_cfg)
    order = np.argsort(split, kind="stable")
    rows = position.to_numpy(zero_copy_only=False)[order].astype(np.int64)
    x, mask = {}, np.zeros((n, len(names)), np.float32)
    for m, name in enumerate(names):
        full, valid = column_arrays(joined, name, sequence=name in sequences, max_chunks=max_chunks)
        if not valid[rows].any():
            raise MmfeatError(f"feature set {name!r} has no rows for the ids in {labels_cfg.path}")
        x[name], mask[:, m] = np.ascontiguousarray(full[rows], np.float32), valid[rows]  # owned, writable copy
    y, classes = encode_targets(labels[labels_cfg.column].take(pa.array(order)).to_pylist(), task)
    ids, split = ids[order], split[order]
    counts = {"labelled": n_labelled, "used": n, "no_features": n_labelled - n,
              **{f"n_{s}": int((split == i).sum()) for i, s in enumerate(SPLITS)},
              "present": {name: int(mask[:, m].sum()) for m, name in enumerate(names)}}
    return Dataset(ids, list(names), x, mask, y, split, classes, counts)


def open_data(cfg, store, names=None):
    """The run's data: an in-memory Dataset, or a StoreStream with ``loader: stream``."""
    names = list(names or cfg.features)
    if cfg.loader == "stream":
        from mmfeat.train.stream import StoreStream

        return StoreStream(store, names, cfg.labels, cfg.task, cfg.complete_cases)
    return load_dataset(store, names, cfg.labels, cfg.task, cfg.complete_cases, cfg.sequences, cfg.max_chunks)
