"""The source role: ``list_shards`` once on the driver, ``read_shard`` on workers.

A shard is a small, picklable description of one unit of input (a file). Reading
a shard streams Records and ErrorRows; a row that cannot be parsed becomes an
ErrorRow naming its file and line, and the rest of the shard is still read.
"""
from typing import Iterator

from mmfeat.records import ErrorRow, Record


class Source:
    """Base class: subclasses implement ``list_shards`` and ``read_shard``."""

    def list_shards(self) -> list:
        """Return the shards to read. Raises a job-level error if there is nothing to read."""
        raise NotImplementedError

    def read_shard(self, shard) -> Iterator[Record | ErrorRow]:
        """Yield every row of ``shard`` as a Record, or as an ErrorRow if it is malformed."""
        raise NotImplementedError

    def fetch(self, shard, refs) -> Iterator[Record | ErrorRow]:
        """Read again the rows at ``refs`` (ascending, as ``read_shard`` gave them): one item per ref, in order.

        This fallback scans the shard; sources that can seek override it.
        """
        wanted = list(refs)
        found = {}
        targets = set(wanted)
        for row in self.read_shard(shard):
            ref = getattr(row, "ref", None)
            if ref in targets and ref not in found:
                found[ref] = row
        for ref in wanted:
            yield found.get(ref) or ErrorRow(f"{shard}@{ref}", "read", "row no longer found in its shard; the input "
                                             "changed while the job ran", str(shard), 0)
