"""``model-output``: the feature-set kind ``mmfeat predict`` writes, predictions of a trained run.

It is never extracted from raw inputs; it exists so a prediction set has a spec,
a fingerprint and lineage like any other feature set: the run directory, what
was written (calibrated class probabilities or the fused embedding), the
checkpoint's sha256 and the fingerprints of the input feature sets.
"""
from dataclasses import dataclass
from typing import Literal

from mmfeat.encoders import ENCODERS
from mmfeat.encoders.base import Encoder


@dataclass(frozen=True, kw_only=True)
class ModelOutputParams:
    """``inputs``: ``name:fingerprint`` of every input feature set, in the model's order."""

    run: str
    output: Literal["probs", "embedding"] = "probs"
    inputs: list = ()
    weights_sha256: str = ""


@ENCODERS.register("model-output")
class ModelOutput(Encoder):
    """Predictions of a trained model; written by ``mmfeat predict``, not by ``extract``."""

    modality = "derived"
    Params = ModelOutputParams
    locator_params = ("run",)  # the same checkpoint moved elsewhere keeps its fingerprint

    def validate(self, value):
        return "model-output feature sets are written by `mmfeat predict`, not by `mmfeat extract`"
