"""``hf-clip``: the joint text-image space of a CLIP-family checkpoint (CLIP, SigLIP, …).

One kind, two towers: the spec's ``modality`` picks them. ``modality: image``
stores the model's ``image_embeds`` (``get_image_features``: the vision tower's
pooled output through the visual projection) and ``modality: text`` its
``text_embeds`` (``get_text_features``), both L2-normalised by default, so a
text and an image vector of one model compare by a dot product.

Text is tokenized as the family was trained: CLIP pads to the longest text in
the batch with an attention mask, SigLIP pads every text to ``max_length``
tokens (the model's position limit, 64) without one, and pools the last position.
"""
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mmfeat.encoders import ENCODERS
from mmfeat.encoders.base import Encoder, Failed
from mmfeat.encoders.hf_common import HFModelMixin, HFModelParams
from mmfeat.encoders.hf_text import text_problem
from mmfeat.encoders.image import ImageEncoder, ImageLimits
from mmfeat.errors import SpecError

# model_type prefixes whose text tower was trained on texts padded to a fixed length, pooling the last position.
FIXED_LENGTH_TEXT = ("siglip",)


@dataclass(frozen=True, kw_only=True)
class HFClipParams(ImageLimits, HFModelParams):
    """The model reference, ``normalize`` (on by default), and for text ``max_length`` (tokens; default:
    the text tower's position limit), ``overflow`` (``error`` or ``truncate`` longer texts) and ``max_chars``."""

    normalize: bool = True
    max_length: int | None = None
    overflow: Literal["error", "truncate"] = "error"
    max_chars: int = 100_000

    def __post_init__(self):
        super().__post_init__()
        if self.max_length is not None and self.max_length < 2:
            raise ValueError(f"max_length must be >= 2, got {self.max_length}")
        if self.max_chars < 1:
            raise ValueError(f"max_chars must be >= 1, got {self.max_chars}")


class _JointModel(HFModelMixin):
    """Loads the full checkpoint and checks that it has both towers and their projections."""

    limit_params = ("max_bytes", "max_pixels", "max_chars")  # guards of either tower, never fingerprinted

    def load_joint(self):
        import torch
        from transformers import AutoModel

        model = self.from_pretrained(AutoModel).eval()
        if not (hasattr(model, "get_text_features") and hasattr(model, "get_image_features")):
            raise SpecError(f"encoder.model {self.params.model!r} is a {type(model).__name__}, not a joint "
                            f"text-image model (CLIP, SigLIP, …); use kind: hf-text or hf-image for it")
        self.model, self._torch = model, torch
        return model

    def features(self, output):
        """The projected embeddings: a tensor (transformers 4) or the output's pooler_output (5)."""
        pooled = output if isinstance(output, self._torch.Tensor) else output.pooler_output
        return self.finish(pooled)

    @property
    def dim(self):
        config = self.model.config  # CLIP: projection_dim; SigLIP: the text head's projection_size
        text = config.text_config
        return int(getattr(config, "projection_dim", None) or getattr(text, "projection_size", None)
                   or text.hidden_size)


class HFClipTextEncoder(_JointModel, Encoder):
    """``hf-clip`` with ``modality: text``: ``text_embeds`` of the joint space."""

    modality = "text"

    def validate(self, value):
        return text_problem(value, self.params.max_chars)

    def load(self):
        from transformers import AutoTokenizer

        model = self.load_joint()
        self.tokenizer = self.from_pretrained(AutoTokenizer)
        limit = int(model.config.text_config.max_position_embeddings)
        self.max_length = self.params.max_length or limit
        if self.max_length > limit:
            raise SpecError(f"encoder.max_length {self.max_length} exceeds the text tower's {limit} positions")
        self.fixed_length = model.config.model_type.startswith(FIXED_LENGTH_TEXT)

    def preprocess(self, values):
        limit = self.max_length
        ids = self.tokenizer(list(values), truncation=True, max_length=limit + 1)["input_ids"]
        out = []
        for value, tokens in zip(values, ids):
            if len(tokens) <= limit:
                out.append(tokens)
            elif self.params.overflow == "truncate":
                out.append(self.tokenizer(value, truncation=True, max_length=limit)["input_ids"])
            else:
                out.append(Failed(f"text has more than max_length={limit} tokens"))
        return out

    def cost(self, item):
        return self.max_length if self.fixed_length else len(item)

    def encode(self, items):
        torch = self._torch
        if self.fixed_length:
            batch = self.tokenizer.pad({"input_ids": items}, padding="max_length", max_length=self.max_length,
                                       return_tensors="pt")
            inputs = {"input_ids": batch["input_ids"]}
        else:
            batch = self.tokenizer.pad({"input_ids": items}, return_tensors="pt")
            inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        with torch.inference_mode():
            return self.features(self.model.get_text_features(**inputs))


class HFClipImageEncoder(_JointModel, ImageEncoder):
    """``hf-clip`` with ``modality: image``: ``image_embeds`` of the joint space."""

    def load(self):
        from transformers import AutoImageProcessor

        self.load_joint()
        self.processor = self.from_pretrained(AutoImageProcessor)

    def transform(self, image):
        prepared = self.processor(images=image, return_tensors="np")
        return {key: np.asarray(value[0]) for key, value in prepared.items()}

    def encode(self, items):
        torch = self._torch
        inputs = {key: torch.from_numpy(np.stack([item[key] for item in items])) for key in items[0]}
        with torch.inference_mode():
            return self.features(self.model.get_image_features(**inputs))


@ENCODERS.register("hf-clip")
class HFClipEncoder(Encoder):
    """The ``hf-clip`` kind: resolves to its text or image tower by the spec's modality."""

    modality = "text or image"
    Params = HFClipParams
    libraries = _JointModel.libraries
    locator_params = _JointModel.locator_params
    towers = {"text": HFClipTextEncoder, "image": HFClipImageEncoder}


for _tower in HFClipEncoder.towers.values():
    _tower.Params, _tower.registry_name, _tower.towers = HFClipParams, "hf-clip", HFClipEncoder.towers
