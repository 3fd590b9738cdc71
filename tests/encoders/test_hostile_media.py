"""Hostile media inputs: wide bit depths scaled (not clipped), paths that are not regular files,
missing remote filesystems, odd and absurd audio; each an ok vector or an error row, never a hang."""
import io
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from mmfeat.encoders.base import Failed
from mmfeat.errors import InputError
from mmfeat.media.audio import decode_audio, ratio
from mmfeat.media.fetch import read_bytes
from mmfeat.media.image import decode_image
from mmfeat.spec import FeatureSpec
from tests.media_factory import tone


def encoder_for(modality: str, encoder: dict):
    spec = FeatureSpec.from_dict({"name": "x", "modality": modality, "input": {"column": "v"}, "encoder": encoder})
    enc = spec.create_encoder()
    enc.load()
    return enc


def png16(values: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(values.astype(np.uint16)).save(buf, format="PNG")
    return buf.getvalue()


def test_16bit_png_ramp_is_scaled_not_clipped():
    ramp = np.tile(np.arange(0, 65536, 257, dtype=np.uint16), (2, 1))  # 0..65535 in 256 steps
    gray = np.asarray(decode_image(png16(ramp), mode="L"))
    assert gray[0].tolist() == list(range(256))
    assert np.asarray(decode_image(png16(ramp), mode="RGB"))[0, 128].tolist() == [128, 128, 128]


def test_float_tiff_of_halves_is_not_all_zero(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((8, 8), 0.5, np.float32)).save(tmp_path / "half.tiff")
    enc = encoder_for("image", {"kind": "pixels", "size": 4})
    vector = enc.encode(enc.preprocess([str(tmp_path / "half.tiff")]))[0]
    assert np.allclose(vector, 128 / 255)
    Image.fromarray(np.full((4, 4), np.nan, np.float32)).save(tmp_path / "nan.tiff")
    failed = enc.preprocess([str(tmp_path / "nan.tiff")])[0]
    assert isinstance(failed, Failed) and "NaN" in failed


@pytest.fixture
def no_hang():
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("reading the input blocked"))
    signal.alarm(10)
    yield
    signal.alarm(0)


def test_paths_that_are_not_regular_files_are_read_errors(tmp_path, no_hang):
    os.mkfifo(tmp_path / "fifo.png")
    (tmp_path / "dir.png").mkdir()
    os.symlink(tmp_path / "loop.png", tmp_path / "loop.png")
    cases = {"fifo.png": "not a regular file", "dir.png": "directory", "loop.png": "cannot open"}
    for name, reason in cases.items():
        with pytest.raises(InputError, match=reason) as info:
            read_bytes(str(tmp_path / name), 1000)
        assert info.value.stage == "read"
    with pytest.raises(InputError, match="not a regular file"):
        read_bytes("/dev/zero", 1000)
    enc = encoder_for("image", {"kind": "pixels"})
    failed = enc.preprocess([str(tmp_path / "fifo.png")])[0]
    assert isinstance(failed, Failed) and failed.stage == "read"


def test_http_without_its_filesystem_package_is_a_read_error():
    pytest.importorskip("fsspec")
    try:
        import aiohttp  # noqa: F401
        pytest.skip("aiohttp is installed: http:// inputs are readable here")
    except ImportError:
        pass
    with pytest.raises(InputError, match=r"pip install 'fsspec\[http\]'") as info:
        read_bytes("http://example.invalid/a.png", 1000)
    assert info.value.stage == "read"


def wav(samples, rate, subtype="FLOAT"):
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


@pytest.mark.parametrize("rate", [44111, 96001, 11127, 1001, 44100, 48000])
def test_odd_sample_rates_resample_to_the_right_length(rate):
    out = decode_audio(wav(tone(0.3, rate), rate), sample_rate=16000)
    assert abs(len(out) - 4800) <= 5 and np.isfinite(out).all()
    assert max(ratio(rate, 16000)) <= 1000


def test_common_rates_reduce_exactly():
    assert ratio(44100, 16000) == (441, 160) and ratio(48000, 16000) == (3, 1) and ratio(8000, 16000) == (1, 2)


def test_resampling_odd_rates_needs_little_memory():
    """Peak RSS growth of decoding 0.3 s clips at odd rates, in a fresh process (it was 21.8 GB at 44111 Hz)."""
    script = (
        "import io, resource, soundfile as sf, torch, torchaudio\n"
        "from mmfeat.media.audio import decode_audio\n"
        "from tests.media_factory import tone\n"
        "def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024\n"
        "base = peak()\n"
        "for rate in (44111, 96001, 11127, 383999):\n"
        "    buf = io.BytesIO(); sf.write(buf, tone(0.3, rate), rate, format='WAV', subtype='FLOAT')\n"
        "    decode_audio(buf.getvalue(), sample_rate=16000)\n"
        "print(peak() - base)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert int(out.stdout.strip()) < 300  # MiB


@pytest.mark.parametrize("make,reason", [
    (lambda: wav(np.zeros(10, np.float32), 16000), "min_seconds"),
    (lambda: wav(tone(0.01, 384000), 384000), "outside"),
    (lambda: wav(np.zeros(100, np.float32), 999), "outside"),
    (lambda: wav(np.zeros(0, np.float32), 16000), "no samples"),
])
def test_absurd_audio_is_refused(make, reason):
    with pytest.raises(InputError, match=reason):
        decode_audio(make(), sample_rate=16000)


def test_a_header_claiming_more_frames_than_the_file_holds_is_refused_or_read_as_it_is():
    data = bytearray(wav(tone(0.1, 16000), 16000, subtype="PCM_16"))
    at = data.find(b"data")
    data[at + 4:at + 8] = (0x7FFFFFF0).to_bytes(4, "little")  # ~18 hours at 16 kHz
    data[4:8] = (0x7FFFFFF0).to_bytes(4, "little")
    try:
        out = decode_audio(bytes(data), sample_rate=16000)
    except InputError as exc:
        assert "max_seconds" in exc.reason or "header declares" in exc.reason
    else:
        assert len(out) == 1600  # libsndfile read only the frames present


@pytest.mark.parametrize("subtype,channels", [("PCM_U8", 1), ("PCM_24", 1), ("FLOAT", 6), ("DOUBLE", 2)])
def test_bit_depths_and_channel_counts_decode(subtype, channels):
    samples = tone(0.2, 16000, channels=channels)
    out = decode_audio(wav(samples, 16000, subtype=subtype), sample_rate=16000)
    assert len(out) == 3200 and np.abs(out).max() == pytest.approx(0.3, abs=0.02)


def test_audio_guards_are_spec_parameters_and_not_fingerprinted():
    base = {"kind": "logmel"}
    strict = {"kind": "logmel", "min_sample_rate": 8000, "min_seconds": 0.5, "max_sample_rate": 96000}
    make = lambda enc: FeatureSpec.from_dict(  # noqa: E731
        {"name": "a", "modality": "audio", "input": {"column": "v"}, "encoder": enc})
    assert make(base).fingerprint({}) == make(strict).fingerprint({})
    enc = encoder_for("audio", strict)
    failed = enc.preprocess([wav(tone(0.3, 16000), 16000)])[0]
    assert isinstance(failed, Failed) and "min_seconds" in failed


def test_compressed_audio_is_not_held_to_the_pcm_size_check():
    buf = io.BytesIO()
    sf.write(buf, tone(0.5, 8000), 8000, format="FLAC", subtype="PCM_16")
    assert len(decode_audio(buf.getvalue(), sample_rate=16000)) == 8000
