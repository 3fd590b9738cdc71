"""A joined store table's columns as dense arrays, and the labels-table columns a run reads."""
import numpy as np
import pyarrow as pa

from mmfeat.store.store import embedding_matrix


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


def label_columns(labels_cfg) -> list:
    """The labels-table columns a run reads: label, then split and group columns when set."""
    return [c for c in (labels_cfg.column, labels_cfg.split_column, labels_cfg.group_column) if c]
