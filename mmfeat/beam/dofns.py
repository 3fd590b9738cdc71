"""DoFns wrapping mmfeat's extraction steps, with Beam metrics and one model per worker process."""
import hashlib
from collections import deque

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from mmfeat.errors import MmfeatError, ModelLoadError
from mmfeat.extract.candidates import index_shard
from mmfeat.extract.deferred import Deferred
from mmfeat.extract.unit_job import UnitJob
from mmfeat.extract.unit_stats import OBJECT_STORE_FLUSH_SECONDS, UnitStatsBatch
from mmfeat.plugins import load_plugins
from mmfeat.store.files import replace_json
from mmfeat.store.objects import is_url

NAMESPACE = "mmfeat"


def read_stats_path(run_dir, shard) -> str:
    """Where the reader of ``shard`` records how many rows it read (the report's cross-check)."""
    return run_dir / "read" / f"{hashlib.blake2b(repr(shard).encode(), digest_size=10).hexdigest()}.json"


class IndexShardDoFn(beam.DoFn):
    """Reads one shard and keys every row by its unit: refs for the shuffle, or error rows (no model)."""

    def __init__(self, source, n_buckets: int, n_slots: int, run_dir, plugins=()):
        self.source, self.n_buckets, self.n_slots, self.run_dir = source, n_buckets, n_slots, run_dir
        self.plugins = tuple(plugins)
        self.rows_read = Metrics.counter(NAMESPACE, "rows_read")

    def setup(self):
        load_plugins(self.plugins)

    def process(self, shard):
        n = 0
        for unit, element, rows in index_shard(self.source, shard, self.n_buckets, self.n_slots):
            n += rows
            yield unit, element
        self.rows_read.inc(n)
        replace_json(read_stats_path(self.run_dir, shard), {"shard": repr(shard), "rows": n})


class _Loaded:
    """A weak-referenceable holder, as ``shared.Shared`` requires, for a loaded encoder."""

    def __init__(self, encoder):
        self.encoder = encoder


class ExtractUnitDoFn(beam.DoFn):
    """Runs a UnitJob per (bucket, slot). The encoder is loaded once per process, and only if needed.

    ``shared.Shared`` keeps one loaded model per worker process across DoFn
    instances and bundles, as Beam's RunInference does internally.
    """

    COUNTERS = (("rows_ok", "n_ok"), ("rows_error", "n_error"), ("rows_skipped", "n_skipped"),
                ("encoded", "n_encoded"), ("reused", "n_reused"), ("forward_batches", "n_batches"),
                ("commits", "n_commits"))

    def __init__(self, ctx, model_key: str, source, run_dir):
        self.ctx, self.model_key, self.source, self.run_dir = ctx, model_key, source, run_dir
        self.counters = {name: Metrics.counter(NAMESPACE, name) for name, _ in self.COUNTERS}
        self.unit_ms = Metrics.distribution(NAMESPACE, "unit_ms")
        # Created here, not in setup: unpickled copies keep the handle's key, so
        # every instance in a process shares the one loaded model.
        self._shared = shared.Shared()
        self._loaded = None

    def setup(self):
        load_plugins(self.ctx.plugins)
        self.validator = self.ctx.spec.create_encoder()  # validate and content keys need no model
        # On an object store, a unit's last commit, publishing and stats writes overlap the next unit's work
        # (requests on the after-commit queue), units' stats are written in batches, and a unit starts from
        # the bucket state this worker last saw (see UnitJob).
        remote = is_url(self.ctx.store_root)
        self.deferred = Deferred(inline=not remote)
        self.logs = {} if remote else None
        self.unit_stats = UnitStatsBatch(self.run_dir, self.deferred.submit,
                                         flush_seconds=OBJECT_STORE_FLUSH_SECONDS if remote else 0.0)
        self._finished = deque()  # stats of finished units, appended by whichever thread finished them

    def _report_finished(self, *, flush: bool = False) -> None:
        """Count finished units in Beam's metrics and the stats batch, on the bundle's thread (metrics
        belong to it), whichever thread finished them; ``flush``: write the batch now."""
        while self._finished:
            stats = self._finished.popleft()
            for counter, key in self.COUNTERS:
                self.counters[counter].inc(stats[key])
            self.unit_ms.update(int(stats["seconds"]["total"] * 1000))
            self.unit_stats.add(stats)
        if flush:
            self.unit_stats.flush()

    def finish_bundle(self):
        # A bundle is done only when its units' commits have happened and are visible, and they are reported.
        try:
            self.deferred.drain()
        finally:
            self._report_finished(flush=True)
            self.deferred.drain()

    def teardown(self):
        self.deferred.close()

    def _encoder(self):
        def load():
            encoder = self.ctx.spec.create_encoder()
            try:
                encoder.load()
            except MmfeatError:
                raise
            except Exception as exc:  # noqa: BLE001 (any library's load failure becomes one clear line)
                model = getattr(encoder.params, "model", None) or self.ctx.spec.encoder.kind
                raise ModelLoadError(
                    f"{self.ctx.spec.origin}: cannot load the model {model!r} ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:300] if str(exc) else ''}). Check encoder.model: a local "
                    f"save_pretrained directory (relative to the YAML), package:NAME, or a hub id reachable "
                    f"from the workers (HF_HUB_OFFLINE unset)") from exc
            return _Loaded(encoder)

        if self._loaded is None:  # hold a strong reference so the model outlives the bundle
            self._loaded = self._shared.acquire(load, tag=self.model_key)
        return self._loaded.encoder

    def process(self, keyed):
        (bucket, slot), elements = keyed
        try:
            UnitJob(self.ctx, bucket, slot, self._encoder, self.source, self.validator,
                    self.deferred, self.logs).run(elements, done=self._finished.append)
        except BaseException:
            self._report_finished(flush=True)  # the units finished before the failure stay in its report
            raise
        self._report_finished()
