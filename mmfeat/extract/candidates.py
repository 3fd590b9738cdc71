"""Index a shard for the shuffle: every row becomes a ref in its unit, or an error row.

Reading happens twice. Here, on the worker that reads a shard, every row is
parsed only to learn its id; what travels to the unit is the id's digest and the
row's ref (16 bytes), packed per unit. The unit reads the rows back with
``Source.fetch`` (see ``mmfeat.extract.unit_job``), validates and encodes them.
Rows a source cannot re-read (ref None) travel with their value instead.
"""
from typing import Any, Iterator, NamedTuple

from mmfeat.extract.units import RefCollector, id_digest, unit_of
from mmfeat.records import ErrorRow


class Candidate(NamedTuple):
    """A valid input row with its content key, ready to be deduplicated and encoded."""

    id: str
    value: Any
    source: str
    line: int
    ckey: str
    event_time: int | None = None  # the row's own time (UTC epoch us), when read from a timestamp column


def index_shard(source, shard, n_buckets: int, n_slots: int) -> Iterator[tuple[tuple[int, int], tuple, int]]:
    """Yield ``(unit, element, n_rows)`` for ``shard``; the ``n_rows`` add up to the rows read.

    Elements are plain tuples for the shuffle: ``("refs", ShardRefs wire)``,
    ``("value", Record fields)`` or ``("error", ErrorRow fields)``.
    """
    collector = RefCollector(shard)
    for row in source.read_shard(shard):
        digest = id_digest(row.id)
        unit = unit_of(digest, n_buckets, n_slots)
        if isinstance(row, ErrorRow):
            yield unit, ("error", tuple(row)), 1
        elif row.ref is None:
            yield unit, ("value", tuple(row)), 1
        else:
            collector.add(unit, digest, row.ref)
    for unit, refs in collector.drain():
        yield unit, ("refs", refs.to_wire()), len(refs.refs)

