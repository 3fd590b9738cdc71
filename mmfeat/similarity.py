"""Exact cosine top-k over a feature set, streamed bucket by bucket.

Memory holds one bucket's vectors and the ``k`` best so far, whatever the size of
the set. A query is a vector, the id of a stored row, or a text or image encoded
with the feature set's own spec (read back from ``feature_set.json``); for a
``hf-clip`` set the other tower of the same checkpoint encodes it, so a text finds
images and an image finds texts.
"""
from typing import NamedTuple

import numpy as np

from mmfeat.errors import MmfeatError


class Match(NamedTuple):
    """One neighbour: its id and cosine similarity to the query."""

    id: str
    score: float


def similar(store, name: str, query, k: int = 10, *, exclude=()) -> list[Match]:
    """The ``k`` rows of ``name`` most cosine-similar to ``query``, best first (ties by id).

    ``query`` is a vector or the id of a row of ``name`` (that row itself is left out).
    ``exclude`` lists further ids to leave out.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    excluded = set(exclude)
    if isinstance(query, str):
        excluded.add(query)
        query = vector_of(store, name, query)
    q = _unit(np.asarray(query, dtype=np.float32).reshape(1, -1))[0]
    with store.one_pass():  # the set's layout is checked once, not per bucket
        return _scan(store, name, q, k, excluded)


def _scan(store, name, q, k, excluded) -> list[Match]:
    best_ids, best_scores = np.array([], dtype=object), np.array([], dtype=np.float32)
    for bucket in range(store.n_buckets):
        ids, vectors = _bucket(store, name, bucket)
        if not len(ids):
            continue
        if vectors.shape[1] != q.shape[0]:
            raise MmfeatError(f"feature set {name!r} has {vectors.shape[1]}-d vectors; the query has {q.shape[0]}")
        scores = _unit(vectors) @ q
        if excluded:
            keep = np.array([i not in excluded for i in ids], dtype=bool)
            ids, scores = ids[keep], scores[keep]
        best_ids, best_scores = _top(np.concatenate([best_ids, ids]), np.concatenate([best_scores, scores]), k)
    return [Match(str(i), float(s)) for i, s in zip(best_ids, best_scores)]


def vector_of(store, name: str, id_: str) -> np.ndarray:
    """The stored vector of ``id_`` in ``name``, read from its one bucket."""
    from mmfeat.buckets import bucket_of

    ids, vectors = _bucket(store, name, bucket_of(id_, store.n_buckets))
    hits = np.flatnonzero(ids == id_)
    if not len(hits):
        raise MmfeatError(f"feature set {name!r} has no row with id {id_!r} (`mmfeat read {name} --errors` "
                          f"lists the ids that failed)")
    return vectors[hits[0]]


def encode_query(store, name: str, value, modality: str) -> np.ndarray:
    """Encode ``value`` (a text, or an image path) as the feature set ``name`` encoded its rows.

    Raises if the set's model cannot encode ``modality`` or is not the one the set was
    computed with (its weights moved or changed since).
    """
    from mmfeat.extract.encoding import encode_values
    from mmfeat.spec import FeatureSpec

    info = store.info(name)
    origin = f"{store.set_dir(name)}/feature_set.json"
    spec = FeatureSpec.from_dict(info["spec"], origin=origin)
    if spec.modality != modality:
        if modality not in (getattr(spec.encoder_class(), "towers", None) or {}):
            raise MmfeatError(f"feature set {name!r} holds {spec.modality} vectors ({spec.encoder.kind}); a "
                              f"{modality} query needs a joint text-image kind such as hf-clip")
        spec = FeatureSpec.from_dict({**info["spec"], "modality": modality}, origin=origin)
    identity = spec.identity()
    if identity != info["model_identity"]:
        raise MmfeatError(f"{origin}: the model {spec.encoder.params.model!r} found now is not the one the set was "
                          f"computed with ({info['model_identity']} vs {identity}); run where extraction ran")
    encoder = spec.create_encoder()
    problem = encoder.validate(value)
    if problem:
        raise MmfeatError(f"query: {problem}")
    encoder.load()
    result = encode_values(encoder, [value], spec.batching)
    if 0 in result.failures:
        stage, reason = result.failures[0]
        raise MmfeatError(f"query failed at {stage}: {reason}")
    return result.vectors[0]


def _bucket(store, name, bucket) -> tuple[np.ndarray, np.ndarray]:
    from mmfeat.store.store import embedding_matrix

    table = store.read_bucket(name, bucket, columns=["id", "embedding"])
    return np.asarray(table["id"].to_pylist(), dtype=object), embedding_matrix(table["embedding"])


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)  # a zero vector scores 0 against everything


def _top(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best by score, then id: an argpartition cut, then a sort of the survivors."""
    if len(scores) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = scores >= kth  # every tie with the k-th survives, so ties are broken by id below
        ids, scores = ids[keep], scores[keep]
    order = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[:k]
    return ids[order], scores[order]
