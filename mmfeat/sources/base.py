"""The source role: ``list_shards`` once on the driver, ``read_shard`` and ``fetch`` on workers.

A shard is a small, picklable description of one bounded unit of input (a file,
or a byte range / row-group range of a large one) whose ``str`` names its file.
Reading a shard streams Records and ErrorRows; a row that cannot be parsed
becomes an ErrorRow naming its file and line, and the rest of the shard is
still read. Every input row becomes exactly one item: nothing is lost silently.

``Record.ref`` is an opaque int that locates a row inside its shard, or None
when the source cannot re-read the row cheaply (then its value must travel).
``fetch(shard, refs)`` re-reads rows by ref: given ascending refs previously
yielded by ``read_shard(shard)``, it yields exactly one item per ref, in ref
order, with the same id, value, source, line and event time (an ErrorRow if
the row can no longer be read as it was). Sources seek to each ref; the base
class falls back to scanning ``read_shard``.

A source whose constructor takes ``timestamp_column`` is given
``input.timestamp_column`` and sets each Record's ``event_time`` from it; the
time comes back with the row from ``fetch``, it never travels in the shuffle.
"""
from typing import Iterable, Iterator

from mmfeat.records import ErrorRow, Record, locator


class Source:
    """Base class: subclasses implement ``list_shards`` and ``read_shard``, and may speed up ``fetch``."""

    def list_shards(self) -> list:
        """Return the shards to read. Raises a job-level error if there is nothing to read."""
        raise NotImplementedError

    def read_shard(self, shard) -> Iterator[Record | ErrorRow]:
        """Yield every row of ``shard`` as a Record, or as an ErrorRow if it is malformed."""
        raise NotImplementedError

    def fetch(self, shard, refs: Iterable[int]) -> Iterator[Record | ErrorRow]:
        """Yield exactly one item per ref (ascending, from ``read_shard(shard)``), in ref order."""
        wanted = list(refs)
        wanted_set, found = set(wanted), {}
        for row in self.read_shard(shard):
            if isinstance(row, Record) and row.ref in wanted_set:
                found[row.ref] = row
        for ref in wanted:
            yield found.get(ref) or ErrorRow(locator(str(shard), ref), "read",
                                             f"row ref {ref} is no longer in the shard; rerun", str(shard), 0)
