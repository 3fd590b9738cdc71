"""Encoders turn validated inputs into vectors. Subclass ``Encoder``, register, name in YAML."""
from mmfeat.registry import Registry

ENCODERS = Registry("encoder", {"hf-text": "mmfeat.encoders.hf_text"})

__all__ = ["ENCODERS"]
