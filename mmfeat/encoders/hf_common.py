"""What every transformers-backed encoder shares: locating and fingerprinting the weights,
loading ``Auto*`` classes from them, and finishing pooled vectors (L2 and dtype)."""
import logging
from dataclasses import dataclass
from typing import Literal

from mmfeat.encoders import model_ref

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class HFModelParams:
    """``model``: a local directory written by ``save_pretrained``, ``package:<module>`` or a hub id
    (pin ``revision`` to a commit for hub ids). ``normalize`` L2-normalises; ``dtype`` is the stored type."""

    model: str
    revision: str | None = None
    normalize: bool = False
    dtype: Literal["float32", "float16"] = "float32"


class HFModelMixin:
    """Mixed into an ``Encoder`` whose ``Params`` extend ``HFModelParams``."""

    libraries = ("transformers", "torch")
    locator_params = ("model", "revision")

    @classmethod
    def identity(cls, params):
        return model_ref.identity(params.model, params.revision)

    def from_pretrained(self, auto_class):
        """``auto_class.from_pretrained`` on the resolved model reference (and revision)."""
        kwargs = {"revision": self.params.revision} if self.params.revision else {}
        return auto_class.from_pretrained(model_ref.resolve(self.params.model), **kwargs)

    def tower(self, model, name: str):
        """The ``name`` tower of a joint text-image checkpoint (CLIP, SigLIP…), or ``model`` itself.

        A joint model's forward needs both modalities, so a one-modality encoder runs its tower alone:
        unprojected, hence not in the joint space, which ``kind: hf-clip`` gives.
        """
        if not (hasattr(model, name) and hasattr(model, "get_text_features")):
            return model
        log.warning("%s is a joint text-image model (%s): %s uses its %s without the projection; for the "
                    "joint text-image space use kind: hf-clip", self.params.model, type(model).__name__,
                    self.registry_name, name)
        return getattr(model, name)

    def finish(self, pooled):
        """A pooled (B, D) tensor as the stored numpy array: L2-normalised if asked, in ``dtype``."""
        import torch

        if self.params.normalize:
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.float().numpy().astype(self.params.dtype, copy=False)
