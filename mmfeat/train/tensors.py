"""Select rows and modalities of a Dataset as torch tensors."""
import numpy as np
import torch


def as_index(rows):
    """A slice when ``rows`` is a contiguous ascending run (numpy then gives views, not copies)."""
    rows = np.asarray(rows)
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows) and (len(rows) < 2 or np.all(np.diff(rows) == 1)):
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


def with_extra(x: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """``x`` (n, d) or chunk sequences (n, L, d) with ``extra`` (n, k) appended to each row or real chunk
    (padding chunks stay all-zero, so they are still recognised as padding)."""
    if x.ndim == 3:
        extra = (np.abs(x).max(axis=-1, keepdims=True) > 0) * extra[:, None, :]
    return np.concatenate([x, extra.astype(x.dtype)], axis=-1)


def tensors(ds, rows, names=None, extra=None):
    """``(xs, mask, y)`` for ``rows`` over ``names`` (default all). ``extra`` (n, k) is appended to every x."""
    names = names or ds.names
    rows = as_index(rows)
    xs = []
    for name in names:
        x = ds.x[name][rows]
        if extra is not None:
            x = with_extra(x, extra[rows])
        xs.append(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    mask = torch.from_numpy(ds.mask[rows][:, [ds.names.index(n) for n in names]].copy())
    return xs, mask, torch.from_numpy(ds.y[rows])  # int64 classes, or float32 targets
