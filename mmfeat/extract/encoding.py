"""Encode unique contents in cost-budget batches, isolating items that make the model fail."""
import logging
import time

import numpy as np

from mmfeat.batching import budget_batches
from mmfeat.encoders.base import Failed

log = logging.getLogger(__name__)


class EncodeResult:
    """Vectors for the items that encoded, failure reasons for the rest, and counters."""

    def __init__(self):
        self.vectors: dict[int, np.ndarray] = {}
        self.failures: dict[int, tuple[str, str]] = {}  # index -> (stage, reason)
        self.n_batches = 0
        self.seconds = {"preprocess": 0.0, "encode": 0.0}


def encode_values(encoder, values: list, batching) -> EncodeResult:
    """Preprocess and encode ``values``; every index ends in ``vectors`` or ``failures``."""
    result = EncodeResult()
    t0 = time.perf_counter()
    prepared = encoder.preprocess(values)
    result.seconds["preprocess"] = time.perf_counter() - t0
    ok = []
    for i, item in enumerate(prepared):
        if isinstance(item, Failed):
            result.failures[i] = ("preprocess", str(item))
        else:
            ok.append(i)
    costs = [encoder.cost(prepared[i]) for i in ok]
    t0 = time.perf_counter()
    for batch in budget_batches(costs, max_cost=batching.max_cost, max_size=batching.max_batch_size):
        _encode_batch(encoder, [ok[j] for j in batch], prepared, result)
    result.seconds["encode"] = time.perf_counter() - t0
    return result


def _encode_batch(encoder, indices: list[int], prepared: list, result: EncodeResult) -> None:
    result.n_batches += 1
    try:
        out = encoder.encode([prepared[i] for i in indices])
    except (RuntimeError, ValueError) as exc:
        if len(indices) == 1:
            result.failures[indices[0]] = ("encode", f"{type(exc).__name__}: {exc}")
            return
        # One bad item must not fail its neighbours: retry them one at a time.
        log.warning("batch of %d failed (%s); retrying items one by one", len(indices), exc)
        for i in indices:
            _encode_batch(encoder, [i], prepared, result)
        return
    if out.shape[0] != len(indices):
        raise RuntimeError(f"{type(encoder).__name__}.encode returned {out.shape[0]} rows for {len(indices)} items")
    for i, vector in zip(indices, out):
        result.vectors[i] = vector
