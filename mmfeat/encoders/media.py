"""Shared behaviour of encoders whose input is a file: a path, a URI or inline bytes.

The content key is a digest of the file's bytes, so a renamed file is not
recomputed and a file rewritten in place is. Inputs are read and decoded on a
thread pool (``batching.decode_workers``) a window at a time; PIL, libsndfile
and torch release the GIL, so decoding overlaps the model's forward pass.
"""
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from mmfeat.buckets import content_key
from mmfeat.encoders.base import Encoder, Failed
from mmfeat.errors import InputError
from mmfeat.media.fetch import read_bytes

DEFAULT_MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class FileLimits:
    """Guards common to file inputs. They decide ok-or-error, never the vector, so they are not fingerprinted."""

    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self):
        if self.max_bytes < 1:
            raise ValueError(f"max_bytes must be >= 1, got {self.max_bytes}")


class MediaEncoder(Encoder):
    """Base for image and audio encoders: subclasses implement ``prepare(data: bytes)``."""

    limit_params = ("max_bytes",)

    def __init__(self, params, batching):
        super().__init__(params, batching)
        self._pool = None  # decode threads, created on first use (validators never need them)

    def validate(self, value):
        if value is None:
            return "input is missing (null)"
        if isinstance(value, (bytes, bytearray)):
            return None if value else "input is empty (0 bytes)"
        if not isinstance(value, str):
            return f"expected a path, a URI or bytes, got {type(value).__name__}"
        if not value.strip():
            return "path is empty"
        return None

    def content_key(self, value):
        return content_key(read_bytes(value, self.params.max_bytes))

    @property
    def window(self):
        # Four batches: decoding overlaps the model without splitting a small bucket into small batches
        # (on few cores, decode threads and the forward pass compete; bigger batches win).
        return self.batching.window or 4 * self.batching.max_batch_size

    def preprocess(self, values):
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.batching.decode_workers, thread_name_prefix="mmfeat-decode")
        return list(self._pool.map(self._prepare_one, values))

    def _prepare_one(self, value):
        try:
            return self.prepare(read_bytes(value, self.params.max_bytes))
        except InputError as exc:
            return Failed.at(exc.stage, exc.reason)

    def prepare(self, data: bytes):
        """Decode and transform one input's bytes into a model-ready item (or ``Chunks``)."""
        raise NotImplementedError
