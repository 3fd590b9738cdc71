"""``pixels``: a weight-free image encoder. Resize to ``size``×``size``, flatten, scale.

Useful for small images (digits, icons, thumbnails) and as a baseline that any
learned encoder should beat.
"""
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mmfeat.encoders import ENCODERS
from mmfeat.encoders.image import ImageEncoder, ImageLimits


@dataclass(frozen=True, kw_only=True)
class PixelsParams(ImageLimits):
    """``scale``: ``unit`` maps 0..255 to 0..1, ``standardize`` gives each image zero mean and unit variance."""

    size: int = 16
    color: Literal["gray", "rgb"] = "gray"
    scale: Literal["unit", "none", "standardize"] = "unit"

    def __post_init__(self):
        super().__post_init__()
        if not 1 <= self.size <= 512:
            raise ValueError(f"size must be in 1..512, got {self.size}")


@ENCODERS.register("pixels")
class PixelsEncoder(ImageEncoder):
    """Flattened, resized pixels: ``size*size`` values (gray) or ``3*size*size`` (rgb)."""

    Params = PixelsParams

    @property
    def color_mode(self):
        return "L" if self.params.color == "gray" else "RGB"

    def transform(self, image):
        from PIL import Image

        size = self.params.size
        pixels = np.asarray(image.resize((size, size), Image.Resampling.BOX), dtype=np.float32).reshape(-1)
        if self.params.scale == "unit":
            return pixels / 255.0
        if self.params.scale == "standardize":
            return (pixels - pixels.mean()) / max(float(pixels.std()), 1e-6)
        return pixels

    def encode(self, items):
        return np.stack(items).astype(np.float32, copy=False)

    @property
    def dim(self):
        return self.params.size ** 2 * (1 if self.params.color == "gray" else 3)
