"""Shared behaviour of audio encoders: decode, mono, resample, and split long clips into chunks."""
from dataclasses import dataclass

from mmfeat.encoders.base import Chunks
from mmfeat.encoders.media import FileLimits, MediaEncoder
from mmfeat.media.audio import (DEFAULT_MAX_SAMPLE_RATE, DEFAULT_MAX_SECONDS, DEFAULT_MIN_SAMPLE_RATE,
                                DEFAULT_MIN_SECONDS, decode_audio)
from mmfeat.media.chunks import windows


@dataclass(frozen=True, kw_only=True)
class AudioParams(FileLimits):
    """Decoding and chunking.

    ``chunk_seconds``: clips longer than this are cut into windows every
    ``hop_seconds`` (default: no overlap); each window is encoded and the stored
    vector is their mean. ``keep_chunks`` also stores the per-window vectors (a
    ``chunks`` column) for sequence models. Guards, checked from the header
    before decoding (error rows, never vectors): ``max_seconds`` and
    ``min_seconds`` bound the duration, ``min_sample_rate`` and
    ``max_sample_rate`` (exclusive) the input's sample rate.
    """

    sample_rate: int = 16000
    max_seconds: float = DEFAULT_MAX_SECONDS
    min_seconds: float = DEFAULT_MIN_SECONDS
    min_sample_rate: int = DEFAULT_MIN_SAMPLE_RATE
    max_sample_rate: int = DEFAULT_MAX_SAMPLE_RATE
    chunk_seconds: float | None = None
    hop_seconds: float | None = None
    keep_chunks: bool = False

    def __post_init__(self):
        super().__post_init__()
        if self.sample_rate < 1000:
            raise ValueError(f"sample_rate must be >= 1000, got {self.sample_rate}")
        if not 0 <= self.min_seconds < self.max_seconds:
            raise ValueError(f"need 0 <= min_seconds < max_seconds, got {self.min_seconds} and {self.max_seconds}")
        if not 1 <= self.min_sample_rate < self.max_sample_rate:
            raise ValueError(f"need 1 <= min_sample_rate < max_sample_rate, got {self.min_sample_rate} "
                             f"and {self.max_sample_rate}")
        if self.chunk_seconds is not None and self.chunk_seconds <= 0:
            raise ValueError(f"chunk_seconds must be > 0, got {self.chunk_seconds}")
        if self.hop_seconds is not None and (self.chunk_seconds is None or self.hop_seconds <= 0):
            raise ValueError("hop_seconds needs chunk_seconds and must be > 0")


class AudioEncoder(MediaEncoder):
    """Items are mono float32 arrays at ``sample_rate``; batches are budgeted by samples."""

    modality = "audio"
    limit_params = ("max_bytes", "max_seconds", "min_seconds", "min_sample_rate", "max_sample_rate")

    def prepare(self, data):
        p = self.params
        samples = decode_audio(data, sample_rate=p.sample_rate, max_seconds=p.max_seconds,
                               min_seconds=p.min_seconds, min_sample_rate=p.min_sample_rate,
                               max_sample_rate=p.max_sample_rate)
        if p.chunk_seconds is None:
            return samples
        size = max(1, round(p.chunk_seconds * p.sample_rate))
        hop = max(1, round((p.hop_seconds or p.chunk_seconds) * p.sample_rate))
        spans = windows(len(samples), size, hop)
        return samples if len(spans) == 1 and not p.keep_chunks else Chunks(samples[s:e] for s, e in spans)

    def cost(self, item):
        return len(item)

    @property
    def batch_overhead(self):
        return self.params.sample_rate // 4  # a forward call costs about as much as 0.25 s of padding
