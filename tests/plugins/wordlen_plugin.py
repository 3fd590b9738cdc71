"""A plugin module for ``mmfeat --plugin wordlen_plugin``: registers the ``word-len`` encoder on import."""
from dataclasses import dataclass

import numpy as np

from mmfeat.encoders import ENCODERS
from mmfeat.encoders.base import Encoder


@dataclass(frozen=True, kw_only=True)
class WordLenParams:
    """``longest``: word lengths 1..longest are counted, longer words in the last slot."""

    longest: int = 8


@ENCODERS.register("word-len")
class WordLenEncoder(Encoder):
    """The normalised histogram of word lengths."""

    modality = "text"
    Params = WordLenParams

    def encode(self, items):
        out = np.zeros((len(items), self.params.longest), dtype=np.float32)
        for row, text in enumerate(items):
            for word in text.split():
                out[row, min(len(word), self.params.longest) - 1] += 1
        return out / np.maximum(out.sum(1, keepdims=True), 1)

    @property
    def dim(self):
        return self.params.longest
