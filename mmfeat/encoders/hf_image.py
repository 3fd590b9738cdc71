"""``hf-image``: any transformers vision model with its image processor (ViT, DINOv2, CLIP/SigLIP vision tower…).

For a full CLIP or SigLIP checkpoint the vision tower is used. Pooling:
``pooler`` (the model's pooler output, e.g. CLIP's projected-free pooled CLS),
``cls`` (first token) or ``mean`` (mean of the patch tokens, CLS excluded).
"""
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mmfeat.encoders import ENCODERS
from mmfeat.encoders.hf_common import HFModelMixin, HFModelParams
from mmfeat.encoders.image import ImageEncoder, ImageLimits
from mmfeat.errors import MmfeatError


@dataclass(frozen=True, kw_only=True)
class HFImageParams(ImageLimits, HFModelParams):
    """The model reference and ``pooling`` (see the module docstring)."""

    pooling: Literal["pooler", "cls", "mean"] = "pooler"


@ENCODERS.register("hf-image")
class HFImageEncoder(HFModelMixin, ImageEncoder):
    """Runs a transformers vision model on processor-prepared pixels and pools its output."""

    Params = HFImageParams

    def load(self):
        import torch
        from transformers import AutoImageProcessor, AutoModel

        self.processor = self.from_pretrained(AutoImageProcessor)
        self.model = self.tower(self.from_pretrained(AutoModel), "vision_model").eval()
        self._torch = torch

    def transform(self, image):
        return self.processor(images=image, return_tensors="np")["pixel_values"][0].astype(np.float32)

    def encode(self, items):
        torch = self._torch
        with torch.inference_mode():
            out = self.model(pixel_values=torch.from_numpy(np.stack(items)))
            if self.params.pooling == "pooler":
                if getattr(out, "pooler_output", None) is None:
                    raise MmfeatError(f"{type(self.model).__name__} has no pooler output; set encoder.pooling to cls or mean")
                pooled = out.pooler_output
            elif self.params.pooling == "cls":
                pooled = out.last_hidden_state[:, 0]
            else:
                pooled = out.last_hidden_state[:, 1:].mean(dim=1)
            if pooled.dim() > 2:  # convolutional backbones pool to (B, C, 1, 1)
                pooled = pooled.flatten(1)
        return self.finish(pooled)

    @property
    def dim(self):
        config = self.model.config
        return int(getattr(config, "hidden_size", None) or config.hidden_sizes[-1])
