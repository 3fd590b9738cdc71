"""Run one extraction end to end: check the spec against the store, run Beam, write the report."""
import logging
import time

from mmfeat.beam import pipeline
from mmfeat.extract.bucket_job import RunContext
from mmfeat.extract.report import check_accounting, error_rate, merge_bucket_stats
from mmfeat.sources.select import open_source
from mmfeat.spec import FeatureSpec, load_spec
from mmfeat.store import FeatureStore, feature_set
from mmfeat.store.files import replace_json
from mmfeat.store.layout import new_run_id
from mmfeat.version import __version__

log = logging.getLogger(__name__)


def extract(spec, store_root, inputs, *, beam_args=(), id_column: str | None = None,
            n_buckets: int | None = None, source: str | None = None) -> dict:
    """Extract ``spec`` (a FeatureSpec or YAML path) from ``inputs`` into the store; return the run report.

    Ids the store already holds with the same content are skipped, identical
    contents are encoded once, bad rows become error rows. ``beam_args`` are
    standard Beam pipeline options (``--runner``, ``--direct_num_workers`` …).
    ``source`` overrides the spec's ``input.source`` (``manifest``, ``webdataset``).
    """
    spec = spec if isinstance(spec, FeatureSpec) else load_spec(spec)
    store = FeatureStore(store_root, create=True, n_buckets=n_buckets)
    identity = spec.identity()
    fingerprint = spec.fingerprint(identity)
    set_dir = store.set_dir(spec.name)
    feature_set.ensure(set_dir, spec, fingerprint, identity)
    source = open_source(inputs, spec, kind=source, id_column=id_column)
    run_id = new_run_id()
    ctx = RunContext(str(store.root), spec, fingerprint, run_id)
    started = time.time()
    log.info("run %s: extracting %s into %s (%d buckets)", run_id, spec.name, store.root, store.n_buckets)
    counters = pipeline.run(list(beam_args), source=source, ctx=ctx, n_buckets=store.n_buckets,
                            model_key=fingerprint)
    wall = time.time() - started
    report = merge_bucket_stats(set_dir / "_runs" / run_id)
    check_accounting(report, counters.get("rows_read"))
    report.update({
        "run_id": run_id, "feature_set": spec.name, "fingerprint": fingerprint, "store": str(store.root),
        "inputs": source.patterns, "beam_args": list(beam_args), "mmfeat_version": __version__,
        "started_at": started, "wall_seconds": round(wall, 3),
        "rows_per_second": round(report["n_input"] / wall, 2) if wall else None,
        "error_rate": round(error_rate(report), 6), "beam_counters": counters,
    })
    replace_json(set_dir / "runs" / f"{run_id}.json", report)
    return report
