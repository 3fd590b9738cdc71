"""Encoders turn validated inputs into vectors. Subclass ``Encoder``, register, name in YAML."""
from mmfeat.registry import Registry

ENCODERS = Registry("encoder", {
    "hf-text": "mmfeat.encoders.hf_text",
    "hf-image": "mmfeat.encoders.hf_image",
    "hf-clip": "mmfeat.encoders.hf_clip",
    "effnet-lite0": "mmfeat.encoders.effnet",
    "pixels": "mmfeat.encoders.pixels",
    "hf-audio": "mmfeat.encoders.hf_audio",
    "logmel": "mmfeat.encoders.logmel",
    "model-output": "mmfeat.encoders.model_output",
}, group="mmfeat.encoders")

__all__ = ["ENCODERS"]
