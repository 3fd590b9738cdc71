"""Run one extraction end to end: check the spec against the store, run Beam, write the report.

The run report ``NAME/runs/RUN_ID.json`` is written when the run starts (status
``running``) and rewritten when it ends (``ok`` or ``failed`` with the error), so
a killed or failed run still leaves a trace that ``mmfeat show`` can print.
"""
import logging
import shutil
import tempfile
import time
from contextlib import contextmanager

from mmfeat.beam import pipeline, runners
from mmfeat.beam.failures import job_error
from mmfeat.extract.progress import RunProgress
from mmfeat.extract.report import check_accounting, error_rate, merge_unit_stats, rows_read
from mmfeat.extract.sync import apply_sync
from mmfeat.extract.unit_job import RunContext
from mmfeat.extract.units import DEFAULT_SLOTS
from mmfeat.plugins import loaded_plugins
from mmfeat.sources.select import open_source
from mmfeat.spec import FeatureSpec, load_spec
from mmfeat.store import FeatureStore, feature_set
from mmfeat.store.bucket_log import buckets_with_log
from mmfeat.store.files import replace_json
from mmfeat.store.layout import new_run_id
from mmfeat.version import __version__

log = logging.getLogger(__name__)


@contextmanager
def private_tempdir():
    """Point ``tempfile`` at a fresh directory for the run and remove it after: Beam's runners leave
    empty ``beam-temp*`` and ``tmp*`` directories behind in the system temp dir otherwise."""
    path = tempfile.mkdtemp(prefix="mmfeat-run-")
    previous, tempfile.tempdir = tempfile.tempdir, path
    try:
        yield path
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(path, ignore_errors=True)


def extract(spec, store_root, inputs, *, beam_args=(), id_column: str | None = None,
            n_buckets: int | None = None, source: str | None = None, n_slots: int = DEFAULT_SLOTS,
            chunk_rows: int = 8192, retry_errors: bool = False, sync: bool = False,
            progress_interval: float = 10.0, storage_options: dict | None = None) -> dict:
    """Extract ``spec`` (a FeatureSpec or YAML path) from ``inputs`` into the store; return the run report.

    Ids the store already holds with the same content are skipped, identical
    contents are encoded once per unit, bad rows become error rows, and rows that
    failed for their content before are not retried unless ``retry_errors``.
    ``beam_args`` are standard Beam pipeline options (``--runner``, ``--direct_num_workers`` …).
    ``source`` overrides the spec's ``input.source`` (``manifest``, ``webdataset``).
    ``n_slots`` splits each bucket into that many units of work; ``chunk_rows``
    bounds the rows a unit holds and commits at once. ``sync`` removes stored ids
    the inputs no longer have (see ``mmfeat.extract.sync``). ``store_root`` may be an
    object-store URL, with fsspec ``storage_options`` (they reach the workers, never the report).
    """
    spec = spec if isinstance(spec, FeatureSpec) else load_spec(spec)
    if n_slots < 1 or chunk_rows < 1:
        raise ValueError("n_slots and chunk_rows must be >= 1")
    store = FeatureStore(store_root, create=True, n_buckets=n_buckets, storage_options=storage_options)
    identity = spec.identity()
    fingerprint = spec.fingerprint(identity)
    set_dir = store.set_dir(spec.name)
    runner, argv = runners.resolve(list(beam_args))  # a bad runner or option fails before anything is registered
    source = open_source(inputs, spec, kind=source, id_column=id_column)
    shards = source.list_shards()
    created = not (set_dir / feature_set.META_FILE).exists()
    meta = feature_set.ensure(set_dir, spec, fingerprint, identity)
    run_id = new_run_id()
    run_dir = set_dir / "_runs" / run_id
    ctx = RunContext(str(store.root), spec, fingerprint, run_id, n_slots=n_slots, chunk_rows=chunk_rows,
                     retry_errors=retry_errors, plugins=tuple(loaded_plugins()), sync=sync,
                     storage_options=store.storage_options, n_buckets=store.n_buckets,
                     log_hashes=bool(meta.get("log_hashes")), logged_buckets=buckets_with_log(set_dir))
    started = time.time()
    report = {"run_id": run_id, "feature_set": spec.name, "status": "running", "fingerprint": fingerprint,
              "store": str(store.root), "inputs": source.patterns, "beam_args": list(beam_args),
              "n_slots": n_slots, "mmfeat_version": __version__, "started_at": started}
    report_path = set_dir / "runs" / f"{run_id}.json"
    replace_json(report_path, report)
    log.info("run %s: extracting %s into %s (%d buckets x %d slots)", run_id, spec.name, store.root,
             store.n_buckets, n_slots)
    try:
        with private_tempdir(), RunProgress(spec.name, run_dir, interval=progress_interval):
            try:
                counters = pipeline.run(runner, argv, source=source, shards=shards, ctx=ctx,
                                        n_buckets=store.n_buckets, model_key=fingerprint, run_dir=run_dir)
            except Exception as exc:  # noqa: BLE001 (re-raised, as the mmfeat error that caused it if any)
                error = job_error(exc, store.root)
                if error is exc:
                    raise
                raise error from exc
        wall = time.time() - started
        report.update(merge_unit_stats(run_dir))
        n_read = rows_read(run_dir)
        check_accounting(report, n_read)
        if sync:
            report["sync"] = apply_sync(set_dir, run_dir, run_id, report)
    except BaseException as exc:
        report.update(merge_unit_stats(run_dir), status="failed", error=f"{type(exc).__name__}: {exc}"[:2000],
                      wall_seconds=round(time.time() - started, 3))
        replace_json(report_path, report)
        if created and not (set_dir / "_log").exists():
            # A first run that committed nothing registers nothing: the name stays free for a fixed spec.
            # Its report stays on disk (runs/RUN_ID.json) for whoever investigates the failure.
            (set_dir / feature_set.META_FILE).unlink(missing_ok=True)
        raise
    report.update({
        "status": "ok", "wall_seconds": round(wall, 3), "rows_read": n_read,
        "rows_per_second": round(report["n_input"] / wall, 2) if wall else None,
        "error_rate": round(error_rate(report), 6), "beam_counters": counters,
    })
    replace_json(report_path, report)
    log.info("run %s of %s: ok, %d rows in %.1f s: %d ok, %d errors, %d skipped, %d encoded", run_id, spec.name,
             report["n_input"], report["wall_seconds"], report["n_ok"], report["n_error"], report["n_skipped"],
             report["n_encoded"])
    return report
