"""Audio encoders: log-mel statistics and a tiny wav2vec2 built from a config, chunking, resampling."""
import io

import numpy as np
import pytest
import soundfile as sf

from mmfeat.encoders.base import Chunks
from mmfeat.media.chunks import windows
from mmfeat.spec import FeatureSpec
from tests.media_factory import make_tiny_wav2vec2, tone


def encoder_for(encoder: dict):
    spec = FeatureSpec.from_dict({"name": "a", "modality": "audio", "input": {"column": "audio"}, "encoder": encoder})
    enc = spec.create_encoder()
    enc.load()
    return enc


def wav_bytes(samples, rate, subtype="FLOAT"):
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def cosine(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_logmel_matches_torchaudio_by_hand_and_ignores_batch_neighbours():
    import torch
    import torchaudio

    enc = encoder_for({"kind": "logmel"})
    clips = [wav_bytes(tone(s, 16000, f), 16000) for s, f in ((0.3, 300), (1.7, 500), (0.9, 800))]
    items = enc.preprocess(clips)
    together = enc.encode(items)
    alone = np.stack([enc.encode([i])[0] for i in items])
    np.testing.assert_allclose(together, alone)
    mel = torchaudio.transforms.MelSpectrogram(16000, n_fft=400, hop_length=160, n_mels=64)
    spec = torch.log(mel(torch.from_numpy(tone(1.7, 16000, 500))) + 1e-6)
    delta = torchaudio.functional.compute_deltas(spec[None])[0]
    frames = torch.cat([spec, delta])
    want = torch.cat([frames.mean(1), frames.std(1, unbiased=False)]).numpy()
    np.testing.assert_allclose(together[1], want, rtol=1e-4, atol=1e-4)
    assert enc.dim == together.shape[1] == 256


def test_any_rate_and_channel_count_is_resampled_to_mono():
    enc = encoder_for({"kind": "logmel", "features": "mfcc", "n_mfcc": 13})
    at16 = wav_bytes(tone(1.0, 16000, 440), 16000)
    at8_stereo = wav_bytes(tone(1.0, 8000, 440, channels=2), 8000)
    at441 = wav_bytes(tone(1.0, 44100, 440), 44100, subtype="PCM_16")
    a, b, c = enc.encode(enc.preprocess([at16, at8_stereo, at441]))
    assert enc.dim == 52
    assert cosine(a, c) > 0.999
    assert cosine(a, b) > 0.99  # 8 kHz has no energy above 4 kHz, the rest agrees


def test_chunk_windows_cover_the_input():
    assert windows(5, 10, 10) == [(0, 5)]
    assert windows(25, 10, 10) == [(0, 10), (10, 20), (15, 25)]
    assert windows(30, 10, 5) == [(0, 10), (5, 15), (10, 20), (15, 25), (20, 30)]
    with pytest.raises(ValueError):
        windows(10, 0, 1)


def test_logmel_chunks_with_overlap():
    enc = encoder_for({"kind": "logmel", "chunk_seconds": 1.0, "hop_seconds": 0.5})
    prepared = enc.preprocess([wav_bytes(tone(2.2, 16000), 16000), wav_bytes(tone(0.7, 16000), 16000)])
    assert isinstance(prepared[0], Chunks) and len(prepared[0]) == 4  # 0, .5, 1.0 and the end-aligned 1.2
    assert not isinstance(prepared[1], Chunks)  # one window and chunks not kept: a plain item


@pytest.fixture(scope="module")
def w2v(tmp_path_factory):
    return make_tiny_wav2vec2(tmp_path_factory.mktemp("w2v"))


def test_hf_audio_padding_is_masked_out(w2v):
    enc = encoder_for({"kind": "hf-audio", "model": str(w2v)})
    clips = [wav_bytes(tone(s, 16000, f), 16000) for s, f in ((0.5, 300), (1.6, 700))]
    items = enc.preprocess(clips)
    together = enc.encode(items)
    alone = np.stack([enc.encode([i])[0] for i in items])
    assert together.shape == (2, 32)
    np.testing.assert_allclose(together, alone, rtol=1e-3, atol=1e-4)


def test_hf_audio_matches_the_model_run_directly(w2v):
    import torch
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model

    enc = encoder_for({"kind": "hf-audio", "model": str(w2v), "pooling": "mean"})
    got = enc.encode(enc.preprocess([wav_bytes(tone(0.8, 16000), 16000)]))[0]
    fx, model = Wav2Vec2FeatureExtractor.from_pretrained(w2v), Wav2Vec2Model.from_pretrained(w2v).eval()
    with torch.no_grad():
        want = model(**fx(tone(0.8, 16000), sampling_rate=16000, return_tensors="pt")).last_hidden_state.mean(1)[0]
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-5)


def test_hf_audio_refuses_a_sample_rate_the_model_was_not_trained_for(w2v):
    from mmfeat.errors import MmfeatError

    with pytest.raises(MmfeatError, match="expects 16000"):
        encoder_for({"kind": "hf-audio", "model": str(w2v), "sample_rate": 8000})
