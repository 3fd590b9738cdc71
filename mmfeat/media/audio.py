"""Decode audio bytes with soundfile: guards from the header, mono, finite, resampled in bounded memory.

Guards (each an error row at stage ``decode``), checked from the header before
any sample is decoded where they can be:

- a sample rate outside ``[min_sample_rate, max_sample_rate)`` (default
  1000 Hz to 384 kHz) or more than ``MAX_CHANNELS`` channels;
- zero frames, or a duration above ``max_seconds`` or below ``min_seconds``;
- a PCM header declaring more frames than the file's bytes can hold;
- NaN or infinite samples.

Resampling uses torchaudio's windowed sinc with the rate ratio reduced to a
fraction whose terms are at most ``MAX_RATIO_TERM``. Common rates (8, 11.025,
16, 22.05, 32, 44.1, 48, 96 kHz...) reduce exactly; an odd rate (44111 Hz) is
approximated to within about one part in a million, so the kernel, and the
memory, stay small for any rate.
"""
import functools
import io
from fractions import Fraction

import numpy as np

from mmfeat.errors import InputError

DEFAULT_MAX_SECONDS = 600.0
DEFAULT_MIN_SECONDS = 0.01
DEFAULT_MIN_SAMPLE_RATE = 1000
DEFAULT_MAX_SAMPLE_RATE = 384000
MAX_CHANNELS = 32
MAX_RATIO_TERM = 1000
_UNCOMPRESSED = ("WAV", "WAVEX", "RF64", "W64", "AIFF", "AU", "RAW", "CAF")
_PCM_BYTES = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}


def _check_header(info, size: int, *, max_seconds, min_seconds, min_rate, max_rate) -> None:
    """Refuse audio whose header is unusable or absurd (see module doc)."""
    if info.frames <= 0:
        raise InputError("audio has no samples (0 frames)")
    if not min_rate <= info.samplerate < max_rate:
        raise InputError(f"sample rate {info.samplerate} Hz is outside [{min_rate}, {max_rate}) "
                         f"(min_sample_rate / max_sample_rate)")
    if not 1 <= info.channels <= MAX_CHANNELS:
        raise InputError(f"audio has {info.channels} channels, more than {MAX_CHANNELS}")
    seconds = info.frames / info.samplerate
    if seconds > max_seconds:
        raise InputError(f"audio is {seconds:.1f} s long, more than max_seconds={max_seconds}")
    if seconds < min_seconds:
        raise InputError(f"audio is {seconds * 1000:.2f} ms long, less than min_seconds={min_seconds}")
    width = _PCM_BYTES.get(info.subtype) if info.format in _UNCOMPRESSED else None  # FLAC says PCM_16 too
    if width and info.frames * info.channels * width > size:
        raise InputError(f"header declares {info.frames} frames, more than the file's {size} bytes can hold")


def decode_audio(data: bytes, *, sample_rate: int, max_seconds: float = DEFAULT_MAX_SECONDS,
                 min_seconds: float = DEFAULT_MIN_SECONDS, min_sample_rate: int = DEFAULT_MIN_SAMPLE_RATE,
                 max_sample_rate: int = DEFAULT_MAX_SAMPLE_RATE) -> np.ndarray:
    """Return mono float32 samples at ``sample_rate``; ``InputError`` for unusable audio.

    WAV, FLAC, OGG/Vorbis, Opus and MP3 (whatever the installed libsndfile reads).
    Channels are averaged.
    """
    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(data))
        _check_header(info, len(data), max_seconds=max_seconds, min_seconds=min_seconds,
                      min_rate=min_sample_rate, max_rate=max_sample_rate)
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


def ratio(rate: int, target: int) -> tuple[int, int]:
    """``(down, up)``: ``target / rate`` as a fraction whose terms are at most ``MAX_RATIO_TERM``."""
    if target >= rate:
        f = Fraction(rate, target).limit_denominator(MAX_RATIO_TERM)
        return f.numerator, f.denominator
    f = Fraction(target, rate).limit_denominator(MAX_RATIO_TERM)
    return f.denominator, f.numerator


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``samples`` at ``target`` Hz (torchaudio's windowed sinc, bounded kernel); unchanged if rates match."""
    down, up = ratio(rate, target)
    if down == up:
        return samples
    import torch

    with torch.inference_mode():
        return _resampler(down, up)(torch.from_numpy(samples)).numpy()


@functools.lru_cache(maxsize=32)
def _resampler(down: int, up: int):
    """One torchaudio ``Resample`` per reduced ratio: its sinc kernel is built once, not per clip."""
    import torchaudio.transforms as T

    return T.Resample(down, up)
