"""The encoder role: ``validate`` → ``content_key`` → ``load`` → ``preprocess`` → ``encode``.

Encoders know nothing about Beam or the store. The pipeline validates every
input cheaply (no model) and keys its content, loads the model only when
something needs encoding, preprocesses inputs a window at a time (the next
window is prepared while the current one encodes), batches the prepared items
by ``cost`` and calls ``encode``.

An item may come back from ``preprocess`` as ``Chunks``: the pieces of a long
input (audio windows), each encoded as its own batch item. The stored vector is
their mean; with ``keep_chunks: true`` the sequence is stored too.
"""
from typing import Any, ClassVar

import numpy as np

from mmfeat.buckets import content_key


class Failed(str):
    """A preprocessing failure: the reason, in place of the prepared item, and the stage it failed at."""

    stage = "preprocess"

    @classmethod
    def at(cls, stage: str, reason: str) -> "Failed":
        failed = cls(reason)
        failed.stage = stage
        return failed


class Chunks(list):
    """The prepared pieces of one long input, in order; each is batched and encoded as an item."""


class Encoder:
    """Base class for encoders; subclasses set ``modality`` and ``Params`` and implement the steps."""

    modality: ClassVar[str]
    Params: ClassVar[type]
    # Distributions whose major version is part of the fingerprint.
    libraries: ClassVar[tuple[str, ...]] = ()
    # Parameters that only locate the weights; ``identity`` stands for them in the fingerprint,
    # so the same weights installed elsewhere keep the same fingerprint.
    locator_params: ClassVar[tuple[str, ...]] = ()
    # Guards (size, duration limits) that decide ok-or-error but never change a vector: not fingerprinted.
    limit_params: ClassVar[tuple[str, ...]] = ()
    # Parameters added after feature sets were already stored: left out of the fingerprint while at
    # their default (which reproduces the earlier behaviour), so existing stores stay valid.
    added_params: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params, batching):
        self.params = params
        self.batching = batching

    @classmethod
    def identity(cls, params) -> dict:
        """What identifies the weights (digest, hub revision). Weight-free encoders return {}."""
        return {}

    @property
    def window(self) -> int | None:
        """How many inputs are preprocessed at once (None: all of a bucket). Bounds memory for media."""
        return None

    def validate(self, value: Any) -> str | None:
        """Return why ``value`` cannot be encoded, or None. Must be cheap and need no model."""
        return None

    def content_key(self, value: Any) -> str:
        """A digest of what the vector depends on. Media encoders hash the file's bytes, not its path.

        May raise ``InputError`` (an unreadable file), which becomes an error row.
        """
        return content_key(value)

    def load(self) -> None:
        """Load weights; called at most once per worker process, and only if needed."""

    def preprocess(self, values: list) -> list:
        """Turn raw values into model-ready items, ``Chunks`` of items, or ``Failed(reason)``."""
        return list(values)

    @property
    def batch_overhead(self) -> int:
        """The fixed cost of one forward call in ``cost`` units: what an extra batch must save in padding."""
        from mmfeat.batching import BATCH_OVERHEAD

        return BATCH_OVERHEAD

    def cost(self, item) -> int:
        """The padded size an item contributes to a batch (tokens, samples, pixels…)."""
        return 1

    def encode(self, items: list) -> np.ndarray:
        """Encode one batch of prepared items into a float array of shape (len(items), dim)."""
        raise NotImplementedError

    @property
    def dim(self) -> int:
        """Length of the output vectors."""
        raise NotImplementedError
