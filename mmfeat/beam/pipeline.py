"""The extraction pipeline: shards → index (refs per unit) → group by unit → fetch, encode, commit.

Only ids' digests and refs cross the shuffle, keyed by (bucket, slot); a unit
reads its rows back from the source a chunk at a time and writes the vectors it
computed itself, so memory stays flat as the corpus grows, many workers can
work on one bucket, and a killed run keeps every chunk it committed.
"""
import apache_beam as beam

from mmfeat.beam import runners
from mmfeat.beam.dofns import ExtractUnitDoFn, IndexShardDoFn


def build(pipeline, *, source, shards, ctx, n_buckets: int, model_key: str, run_dir):
    """Add the extraction transforms to ``pipeline``. Units report through their stats files
    (``mmfeat.extract.unit_stats``), so the last transform outputs nothing."""
    keyed = (
        pipeline
        | "ListShards" >> beam.Create(shards)
        | "SpreadShards" >> beam.Reshuffle()
        | "IndexShards" >> beam.ParDo(IndexShardDoFn(source, n_buckets, ctx.n_slots, run_dir, ctx.plugins))
    )
    if ctx.sync:  # every unit must run, also those whose rows all left the input
        every_unit = [((b, s), ("sync", None)) for b in range(n_buckets) for s in range(ctx.n_slots)]
        keyed = (keyed, pipeline | "EveryUnit" >> beam.Create(every_unit)) | "WithEveryUnit" >> beam.Flatten()
    return (
        keyed
        | "GroupByUnit" >> beam.GroupByKey()
        | "ExtractUnits" >> beam.ParDo(ExtractUnitDoFn(ctx, model_key, source, run_dir))
    )


def run(runner, argv: list[str], *, source, shards, ctx, n_buckets: int, model_key: str, run_dir) -> dict | None:
    """Run the pipeline on ``shards`` with ``(runner, argv)`` from ``runners.resolve``; return Beam's counters
    by name, or None when the runner has no metrics API."""
    from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions

    argv = runners.with_partitions(runner, argv, len(shards))
    options = PipelineOptions(argv)
    # DoFns reference mmfeat by import, not by pickled main-session state.
    options.view_as(SetupOptions).save_main_session = False
    with beam.Pipeline(runner=runner if not isinstance(runner, str) else None, options=options) as pipeline:
        build(pipeline, source=source, shards=shards, ctx=ctx, n_buckets=n_buckets, model_key=model_key, run_dir=run_dir)
    result = pipeline.result
    if getattr(result, "client", None) is not None:  # DaskRunner leaves its client open; close it now
        result.client.close()
    return _counters(result)


def _counters(result) -> dict | None:
    try:
        metrics = result.metrics().query()["counters"]
    except NotImplementedError:  # e.g. DaskRunner: "collecting metrics will come later!"
        return None
    counters = {}
    for metric in metrics:
        value = metric.committed if metric.committed is not None else metric.attempted
        counters[metric.key.metric.name] = counters.get(metric.key.metric.name, 0) + value
    return counters
