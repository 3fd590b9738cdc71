"""Turn a shard into bucket-keyed elements: validated candidates or error rows.

Validation happens here, before any shuffle, so invalid or oversized values
never travel further than the worker that read them.
"""
from typing import Any, Iterator, NamedTuple

from mmfeat.buckets import bucket_of
from mmfeat.errors import InputError
from mmfeat.records import ErrorRow


class Candidate(NamedTuple):
    """A valid input row with its content key, ready to be deduplicated and encoded."""

    id: str
    value: Any
    source: str
    line: int
    ckey: str


def keyed_candidates(source, shard, encoder, n_buckets: int) -> Iterator[tuple[int, Candidate | ErrorRow]]:
    """Yield ``(bucket, element)`` for every row of ``shard``; every row yields exactly one."""
    for row in source.read_shard(shard):
        if isinstance(row, ErrorRow):
            yield bucket_of(row.id, n_buckets), row
            continue
        bucket = bucket_of(row.id, n_buckets)
        reason = encoder.validate(row.value)
        if reason:
            yield bucket, ErrorRow(row.id, "validate", reason, row.source, row.line)
            continue
        try:
            ckey = encoder.content_key(row.value)
        except InputError as exc:  # e.g. a manifest path to a missing file
            yield bucket, ErrorRow(row.id, exc.stage, exc.reason, row.source, row.line)
            continue
        yield bucket, Candidate(row.id, row.value, row.source, row.line, ckey)
