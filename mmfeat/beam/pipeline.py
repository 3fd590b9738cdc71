"""The extraction pipeline: shards → read+validate → group by bucket → extract+commit.

Only inputs cross the shuffle (keyed by the id's bucket); vectors are written by
the worker that computed them, so memory stays flat as the corpus grows and a
killed run keeps every bucket it committed.
"""
import apache_beam as beam

from mmfeat.beam.dofns import ExtractBucketDoFn, ReadShardDoFn


def build(pipeline, *, source, ctx, n_buckets: int, model_key: str):
    """Add the extraction transforms to ``pipeline``; returns the PCollection of bucket stats."""
    return (
        pipeline
        | "ListShards" >> beam.Create(source.list_shards())
        | "SpreadShards" >> beam.Reshuffle()
        | "ReadValidate" >> beam.ParDo(ReadShardDoFn(source, ctx.spec, n_buckets))
        | "GroupByBucket" >> beam.GroupByKey()
        | "ExtractBucket" >> beam.ParDo(ExtractBucketDoFn(ctx, model_key))
    )


def run(argv_options: list[str], *, source, ctx, n_buckets: int, model_key: str) -> dict:
    """Run the pipeline with the given Beam options; return Beam's counters by name."""
    from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions

    options = PipelineOptions(argv_options)
    # DoFns reference mmfeat by import, not by pickled main-session state.
    options.view_as(SetupOptions).save_main_session = False
    with beam.Pipeline(options=options) as pipeline:
        build(pipeline, source=source, ctx=ctx, n_buckets=n_buckets, model_key=model_key)
    result = pipeline.result
    counters = {}
    for metric in result.metrics().query()["counters"]:
        value = metric.committed if metric.committed is not None else metric.attempted
        counters[metric.key.metric.name] = counters.get(metric.key.metric.name, 0) + value
    return counters
