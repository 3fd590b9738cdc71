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
