"""Decode audio bytes with soundfile: duration guard from the header, mono, finite, resampled."""
import functools
import io

import numpy as np

from mmfeat.errors import InputError

DEFAULT_MAX_SECONDS = 600.0


def decode_audio(data: bytes, *, sample_rate: int, max_seconds: float = DEFAULT_MAX_SECONDS) -> np.ndarray:
    """Return mono float32 samples at ``sample_rate``; ``InputError`` for unusable audio.

    WAV, FLAC, OGG/Vorbis, Opus and MP3 (whatever the installed libsndfile reads).
    Channels are averaged. Zero-length, non-finite (NaN/inf) and longer than
    ``max_seconds`` (checked from the header, before decoding) are refused.
    """
    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(data))
        if info.frames == 0 or info.samplerate <= 0:
            raise InputError("audio has no samples (0 frames)")
        seconds = info.frames / info.samplerate
        if seconds > max_seconds:
            raise InputError(f"audio is {seconds:.1f} s long, more than max_seconds={max_seconds}")
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except InputError:
        raise
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        detail = getattr(exc, "error_string", None) or str(exc)
        raise InputError(f"not audio soundfile can decode (wrong file type or corrupt): {detail}") from None
    if samples.shape[0] == 0:
        raise InputError("audio has no samples (0 frames)")
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    if not np.isfinite(mono).all():
        raise InputError("audio contains NaN or infinite samples")
    return resample(np.ascontiguousarray(mono), rate, sample_rate)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``samples`` at ``target`` Hz (torchaudio's windowed-sinc resampler); unchanged if rates match."""
    if rate == target:
        return samples
    import torch

    with torch.inference_mode():
        return _resampler(rate, target)(torch.from_numpy(samples)).numpy()


@functools.lru_cache(maxsize=32)
def _resampler(rate: int, target: int):
    """One torchaudio ``Resample`` per rate pair: its sinc kernel is built once, not per clip."""
    import torchaudio.transforms as T

    return T.Resample(rate, target)
