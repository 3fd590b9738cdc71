"""Encode unique contents in cost-budget batches, isolating items that make the model fail.

Inputs are preprocessed a window at a time; while one window is batched and
encoded, the next is prepared on a background thread (decoding media releases
the GIL), so decoding does not starve the model. Long inputs prepared as
``Chunks`` are encoded piece by piece and pooled back into one vector.
"""
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from mmfeat.batching import budget_batches
from mmfeat.encoders.base import Chunks, Failed

log = logging.getLogger(__name__)


class EncodeResult:
    """Per input index: a vector (and the chunk sequence, if any) or a failure; plus counters."""

    def __init__(self):
        self.vectors: dict[int, np.ndarray] = {}
        self.sequences: dict[int, np.ndarray] = {}  # (n_chunks, dim) for inputs prepared as Chunks
        self.failures: dict[int, tuple[str, str]] = {}  # index -> (stage, reason)
        self.n_batches = 0
        self.seconds = {"preprocess": 0.0, "wait": 0.0, "encode": 0.0}  # wait: preprocessing not overlapped


def _windows(n: int, size: int | None) -> list[range]:
    """Consecutive index ranges of ``size`` (all of ``n`` if None). The first is a quarter as long, so
    the model starts early and every later window is decoded while the previous one encodes."""
    if not size or size >= n and n <= 8:
        return [range(0, n)] if n else []
    first = min(n, max(1, size // 4))
    return [range(0, first)] + [range(s, min(s + size, n)) for s in range(first, n, size)]


def encode_values(encoder, values: list, batching) -> EncodeResult:
    """Preprocess and encode ``values``; every index ends in ``vectors`` or ``failures``."""
    result = EncodeResult()
    windows = _windows(len(values), encoder.window)

    def prepare(window):
        t0 = time.perf_counter()
        prepared = encoder.preprocess([values[i] for i in window])
        return prepared, time.perf_counter() - t0

    with ThreadPoolExecutor(1, thread_name_prefix="mmfeat-prefetch") as prefetch:
        pending = prefetch.submit(prepare, windows[0]) if windows else None
        for k, window in enumerate(windows):
            t_wait = time.perf_counter()
            prepared, seconds = pending.result()
            result.seconds["preprocess"] += seconds
            result.seconds["wait"] += time.perf_counter() - t_wait
            if k + 1 < len(windows):
                pending = prefetch.submit(prepare, windows[k + 1])
            t0 = time.perf_counter()
            encode_prepared(encoder, list(window), prepared, batching, result)
            result.seconds["encode"] += time.perf_counter() - t0
    return result


def encode_prepared(encoder, indices, prepared, batching, result: EncodeResult) -> None:
    """Batch prepared items (chunks flattened into units), encode them and pool chunks back into ``result``.

    Public for callers that prepare items themselves, such as the RunInference handler."""
    units, owners = [], []  # one unit per forward-pass item; owners[u] = (input index, chunk number)
    n_chunks = {}
    for index, item in zip(indices, prepared):
        if isinstance(item, Failed):
            result.failures[index] = (item.stage, str(item))
        elif isinstance(item, Chunks):
            n_chunks[index] = len(item)
            for c, piece in enumerate(item):
                units.append(piece), owners.append((index, c))
        else:
            units.append(item), owners.append((index, None))
    out: dict[int, np.ndarray] = {}
    failed: dict[int, tuple[str, str]] = {}
    costs = [encoder.cost(u) for u in units]
    for batch in budget_batches(costs, max_cost=batching.max_cost, max_size=batching.max_batch_size,
                                overhead=encoder.batch_overhead):
        _encode_batch(encoder, batch, units, out, failed, result)
    pieces: dict[int, list] = {}
    for u, (index, chunk) in enumerate(owners):
        if u in failed:
            result.failures.setdefault(index, failed[u])
        elif chunk is None:
            result.vectors[index] = out[u]
        else:
            pieces.setdefault(index, []).append(out[u])
    for index, vectors in pieces.items():
        if index in result.failures:
            continue  # one chunk failed: the input fails as a whole, nothing partial is stored
        sequence = np.stack(vectors)
        result.sequences[index] = sequence
        result.vectors[index] = sequence.mean(axis=0)


def _encode_batch(encoder, batch: list[int], units: list, out: dict, failed: dict, result: EncodeResult) -> None:
    result.n_batches += 1
    try:
        vectors = encoder.encode([units[u] for u in batch])
    except (RuntimeError, ValueError) as exc:
        if len(batch) == 1:
            failed[batch[0]] = ("encode", f"{type(exc).__name__}: {exc}")
            return
        # One bad item must not fail its neighbours: retry them one at a time.
        log.warning("batch of %d failed (%s); retrying items one by one", len(batch), exc)
        for u in batch:
            _encode_batch(encoder, [u], units, out, failed, result)
        return
    if vectors.shape[0] != len(batch):
        raise RuntimeError(f"{type(encoder).__name__}.encode returned {vectors.shape[0]} rows for {len(batch)} items")
    for u, vector in zip(batch, vectors):
        out[u] = vector
