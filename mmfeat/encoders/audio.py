"""Shared behaviour of audio encoders: decode, mono, resample, and split long clips into chunks."""
from dataclasses import dataclass

from mmfeat.encoders.base import Chunks
from mmfeat.encoders.media import FileLimits, MediaEncoder
from mmfeat.media.audio import DEFAULT_MAX_SECONDS, decode_audio
from mmfeat.media.chunks import windows


@dataclass(frozen=True, kw_only=True)
class AudioParams(FileLimits):
    """Decoding and chunking.

    ``chunk_seconds``: clips longer than this are cut into windows every
    ``hop_seconds`` (default: no overlap); each window is encoded and the stored
    vector is their mean. ``keep_chunks`` also stores the per-window vectors (a
    ``chunks`` column) for sequence models. ``max_seconds`` refuses absurdly
    long inputs before decoding them.
    """

    sample_rate: int = 16000
    max_seconds: float = DEFAULT_MAX_SECONDS
    chunk_seconds: float | None = None
    hop_seconds: float | None = None
    keep_chunks: bool = False

    def __post_init__(self):
        super().__post_init__()
        if self.sample_rate < 1000:
            raise ValueError(f"sample_rate must be >= 1000, got {self.sample_rate}")
        if self.max_seconds <= 0:
            raise ValueError(f"max_seconds must be > 0, got {self.max_seconds}")
        if self.chunk_seconds is not None and self.chunk_seconds <= 0:
            raise ValueError(f"chunk_seconds must be > 0, got {self.chunk_seconds}")
        if self.hop_seconds is not None and (self.chunk_seconds is None or self.hop_seconds <= 0):
            raise ValueError("hop_seconds needs chunk_seconds and must be > 0")


class AudioEncoder(MediaEncoder):
    """Items are mono float32 arrays at ``sample_rate``; batches are budgeted by samples."""

    modality = "audio"
    limit_params = ("max_bytes", "max_seconds")

    def prepare(self, data):
        p = self.params
        samples = decode_audio(data, sample_rate=p.sample_rate, max_seconds=p.max_seconds)
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
