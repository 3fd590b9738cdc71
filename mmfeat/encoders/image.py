"""Shared behaviour of image encoders: PIL decoding with guards, then a per-encoder ``transform``."""
from dataclasses import dataclass

import numpy as np

from mmfeat.encoders.media import FileLimits, MediaEncoder
from mmfeat.media.image import DEFAULT_MAX_PIXELS, decode_image

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@dataclass(frozen=True, kw_only=True)
class ImageLimits(FileLimits):
    """``max_pixels`` refuses images whose header declares more pixels (decompression bombs)."""

    max_pixels: int = DEFAULT_MAX_PIXELS


class ImageEncoder(MediaEncoder):
    """Decodes to a PIL image in ``color_mode`` (EXIF orientation applied) and calls ``transform``."""

    modality = "image"
    limit_params = ("max_bytes", "max_pixels")
    color_mode = "RGB"

    def prepare(self, data):
        return self.transform(decode_image(data, mode=self.color_mode, max_pixels=self.params.max_pixels))

    def transform(self, image):
        """A decoded PIL image → the model-ready array."""
        raise NotImplementedError


def resize_center_crop(image, resize: int, crop: int):
    """Resize the shorter side to ``resize`` (bicubic, antialiased) and cut the centre ``crop`` square."""
    from PIL import Image

    width, height = image.size
    scale = resize / min(width, height)
    size = (max(crop, round(width * scale)), max(crop, round(height * scale)))
    image = image.resize(size, Image.Resampling.BICUBIC)
    left, top = (size[0] - crop) // 2, (size[1] - crop) // 2
    return image.crop((left, top, left + crop, top + crop))


def normalized_chw(image, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> np.ndarray:
    """An RGB PIL image as a (3, H, W) float32 array scaled to [0, 1] and standardised."""
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    return np.ascontiguousarray(((pixels - mean) / std).transpose(2, 0, 1))
