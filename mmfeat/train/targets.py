"""Targets as arrays, checked up front: a bad label column fails before any training, naming the field."""
import math

import numpy as np

from mmfeat.errors import MmfeatError


def _bad_number(v) -> bool:
    return isinstance(v, float) and not math.isfinite(v)


def encode_targets(values, task: str, where: str = "labels.column", ids=None):
    """Class indices (multiclass), a 0/1 matrix (multilabel) or floats (regression), and the class names.

    NaN or infinite targets, strings in a regression column and a multiclass column
    with a single class raise ``MmfeatError`` naming ``where``.
    """
    values = list(values)
    bad = [k for k, v in enumerate(values) if _bad_number(v)]
    if bad:
        first = f"id {ids[bad[0]]!r}" if ids is not None else f"row {bad[0] + 1}"
        raise MmfeatError(f"{where}: {len(bad)} target(s) are NaN or infinite (first: {first}); "
                          f"drop those rows or leave their label empty")
    if task == "regression":
        strings = [v for v in values if isinstance(v, (str, bool)) or not isinstance(v, (int, float))]
        if strings:
            raise MmfeatError(f"{where}: task regression needs numbers, got {strings[0]!r}; "
                              f"use task: multiclass for class names")
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
    if len(classes) < 2:
        raise MmfeatError(f"{where}: task multiclass needs at least two classes, got "
                          f"{classes[0] if classes else 'none'!r} only")
    index = {c: k for k, c in enumerate(classes)}
    return np.array([index[str(v)] for v in values], dtype=np.int64), classes


def check_splits(counts: dict, y, split, task: str, where: str) -> None:
    """Refuse data too small to train and judge a model: an empty split, or one class in training."""
    empty = [s for s in ("train", "val", "test") if not counts.get(f"n_{s}")]
    if empty:
        raise MmfeatError(f"{where}: the {' and '.join(empty)} split(s) are empty ({counts['used']} labelled rows "
                          f"with features); give more rows, or set labels.split_column / val / test")
    if task == "multiclass" and len(np.unique(y[split == 0])) < 2:
        raise MmfeatError(f"{where}: the training split holds a single class; a classifier needs two or more")
