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
    """``{"val": …, "test": …[, "subsets": {"a+b": test metrics}]}``.

    ``logits(rows, masks)`` returns one logits array per mask (all computed in one pass over the
    rows); ``known`` maps a part to logits already computed with the full mask.
    """
    columns = [ds.names.index(n) for n in names]
    known = dict(known or {})
    out = {}
    keeps = [np.array([1.0 if n in subset else 0.0 for n in names], np.float32) for subset in subsets(names)]
    for part in ("val", "test"):
        rows = ds.rows(part)
        mask = ds.mask[rows][:, columns]
        variants = [] if part in known else [mask]
        if part == "test" and with_subsets:
            variants += [mask * keep for keep in keeps if not keep.all()]
        computed = logits(rows, variants) if variants else []
        if part not in known:
            known[part], computed = computed[0], computed[1:]
        out[part] = evaluate(task, known[part], ds.y[rows], n_out, temperature)
        if part == "test" and with_subsets:
            partial = iter(computed)
            out["subsets"] = {"+".join(subset): evaluate(task, known["test"] if keep.all() else next(partial),
                                                         ds.y[rows], n_out, temperature)
                              for subset, keep in zip(subsets(names), keeps)}
    return out
