"""A third-party mmfeat encoder: the normalised histogram of the letters a-z in a text.

It is not registered here: its entry point (group ``mmfeat.encoders``) names the class,
and mmfeat registers it as ``char-hist`` when a feature YAML first asks for that kind.
"""
from dataclasses import dataclass

import numpy as np

from mmfeat.encoders.base import Encoder

LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, kw_only=True)
class CharHistParams:
    """``lowercase``: count upper-case letters as their lower-case ones."""

    lowercase: bool = True


class CharHistEncoder(Encoder):
    """26 letter frequencies, summing to 1 (texts without letters are refused)."""

    modality = "text"
    Params = CharHistParams

    def validate(self, value):
        if not isinstance(value, str) or not any(c in LETTERS for c in value.lower()):
            return "no letters to count"
        return None

    def encode(self, items):
        rows = []
        for text in items:
            text = text.lower() if self.params.lowercase else text
            counts = np.array([text.count(c) for c in LETTERS], dtype=np.float32)
            rows.append(counts / max(counts.sum(), 1.0))
        return np.stack(rows)

    @property
    def dim(self):
        return len(LETTERS)
