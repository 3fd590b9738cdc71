"""Val/test metrics of a model and of every non-empty subset of its modalities (the others masked).

Shared by training (in-memory model) and ``mmfeat evaluate`` (a checkpoint):
both hand in ``logits(rows, mask) -> array``. Each distinct forward pass runs
once: the full-modality test logits double as the all-modalities subset, and
validation logits already computed for temperature scaling are passed in.
"""
import itertools

import numpy as np

from mmfeat.train.metrics import evaluate


def subsets(names):
    """Every non-empty subset of ``names``, smallest first, in order."""
    for k in range(1, len(names) + 1):
        yield from itertools.combinations(names, k)


def evaluate_all(ds, names, task, n_out, temperature, logits, *, with_subsets=True, known=None) -> dict:
    """``{"val": …, "test": …[, "subsets": {"a+b": test metrics}]}``; ``known`` maps a part to its logits."""
    columns = [ds.names.index(n) for n in names]
    known = dict(known or {})
    out = {}
    for part in ("val", "test"):
        rows = ds.rows(part)
        if part not in known:
            known[part] = logits(rows, ds.mask[rows][:, columns])
        out[part] = evaluate(task, known[part], ds.y[rows], n_out, temperature)
    if with_subsets:
        rows = ds.rows("test")
        out["subsets"] = {}
        for subset in subsets(names):
            keep = np.array([1.0 if n in subset else 0.0 for n in names], np.float32)
            z = known["test"] if keep.all() else logits(rows, ds.mask[rows][:, columns] * keep)
            out["subsets"]["+".join(subset)] = evaluate(task, z, ds.y[rows], n_out, temperature)
    return out
