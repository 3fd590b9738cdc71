"""DoFns wrapping mmfeat's extraction steps, with Beam metrics and one model per worker process."""
import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from mmfeat.extract.bucket_job import BucketJob
from mmfeat.extract.candidates import Candidate, keyed_candidates
from mmfeat.records import ErrorRow

NAMESPACE = "mmfeat"
_CANDIDATE, _ERROR = 0, 1


def to_wire(element) -> tuple:
    """A plain tuple for the shuffle: Beam's fast coder pickles NamedTuples, which
    costs several times the bytes (and memory, on the DirectRunner) of the fields."""
    return (_ERROR if isinstance(element, ErrorRow) else _CANDIDATE, *element)


def from_wire(wire: tuple):
    """Inverse of ``to_wire``."""
    return ErrorRow(*wire[1:]) if wire[0] == _ERROR else Candidate(*wire[1:])


class ReadShardDoFn(beam.DoFn):
    """Reads one shard, validates every row and keys it by bucket (no model needed)."""

    def __init__(self, source, spec, n_buckets: int):
        self.source, self.spec, self.n_buckets = source, spec, n_buckets
        self.rows_read = Metrics.counter(NAMESPACE, "rows_read")
        self.read_errors = Metrics.counter(NAMESPACE, "rows_invalid")

    def setup(self):
        self.validator = self.spec.create_encoder()

    def process(self, shard):
        for bucket, element in keyed_candidates(self.source, shard, self.validator, self.n_buckets):
            self.rows_read.inc()
            if isinstance(element, ErrorRow):
                self.read_errors.inc()
            yield bucket, to_wire(element)


class _Loaded:
    """A weak-referenceable holder, as ``shared.Shared`` requires, for a loaded encoder."""

    def __init__(self, encoder):
        self.encoder = encoder


class ExtractBucketDoFn(beam.DoFn):
    """Runs a BucketJob per bucket. The encoder is loaded once per process, and only if needed.

    ``shared.Shared`` keeps one loaded model per worker process across DoFn
    instances and bundles, as Beam's RunInference does internally.
    """

    def __init__(self, ctx, model_key: str):
        self.ctx, self.model_key = ctx, model_key
        self.counters = {name: Metrics.counter(NAMESPACE, name) for name in
                         ("rows_ok", "rows_error", "rows_skipped", "encoded", "reused", "forward_batches")}
        self.bucket_seconds = Metrics.distribution(NAMESPACE, "bucket_ms")
        # Created here, not in setup: unpickled copies keep the handle's key, so
        # every instance in a process shares the one loaded model.
        self._shared = shared.Shared()
        self._loaded = None

    def _encoder(self):
        def load():
            encoder = self.ctx.spec.create_encoder()
            encoder.load()
            return _Loaded(encoder)

        if self._loaded is None:  # hold a strong reference so the model outlives the bundle
            self._loaded = self._shared.acquire(load, tag=self.model_key)
        return self._loaded.encoder

    def process(self, keyed):
        bucket, elements = keyed
        stats = BucketJob(self.ctx, bucket, self._encoder).run(from_wire(e) for e in elements)
        for counter, key in (("rows_ok", "n_ok"), ("rows_error", "n_error"), ("rows_skipped", "n_skipped"),
                             ("encoded", "n_encoded"), ("reused", "n_reused"), ("forward_batches", "n_batches")):
            self.counters[counter].inc(stats[key])
        self.bucket_seconds.update(int(stats["seconds"]["total"] * 1000))
        yield stats
