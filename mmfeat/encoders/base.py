"""The encoder role: ``validate`` → ``load`` → ``preprocess`` → ``encode``.

Encoders know nothing about Beam or the store. The pipeline validates every
input cheaply (no model), loads the model only when something needs encoding,
preprocesses a group of inputs, batches them by ``cost`` and calls ``encode``.
"""
from typing import Any, ClassVar

import numpy as np


class Failed(str):
    """A preprocessing failure: the reason, in place of the prepared item."""


class Encoder:
    """Base class for encoders; subclasses set ``modality`` and ``Params`` and implement the four steps."""

    modality: ClassVar[str]
    Params: ClassVar[type]
    # Distributions whose major version is part of the fingerprint.
    libraries: ClassVar[tuple[str, ...]] = ()
    # Parameters that only locate the weights; ``identity`` stands for them in the fingerprint,
    # so the same weights installed elsewhere keep the same fingerprint.
    locator_params: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params, batching):
        self.params = params
        self.batching = batching

    @classmethod
    def identity(cls, params) -> dict:
        """What identifies the weights (digest, hub revision). Weight-free encoders return {}."""
        return {}

    def validate(self, value: Any) -> str | None:
        """Return why ``value`` cannot be encoded, or None. Must be cheap and need no model."""
        return None

    def load(self) -> None:
        """Load weights; called at most once per worker process, and only if needed."""

    def preprocess(self, values: list) -> list:
        """Turn raw values into model-ready items, or ``Failed(reason)`` for those that fail."""
        return list(values)

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
