"""Parquet manifests: shards are runs of row groups, refs are row numbers, fetch reads only needed groups.

A file pyarrow cannot open (truncated, not Parquet) is a job-level error naming
it. A row group that cannot be decoded becomes one error row (located at its
first row, giving its row count) and the other groups are still read. Values of
the wrong type (a float id, an int text) are row-level errors downstream. A
``timestamp_column`` of any Parquet timestamp type (with or without a time
zone), a date, a number (epoch seconds) or a string (ISO-8601) gives each row
its event time.
"""
from mmfeat.errors import MmfeatError
from mmfeat.records import ErrorRow, locator
from mmfeat.sources.shards import FileShard

_BATCH = 4096


def open_parquet(path: str):
    """A ``pyarrow.parquet.ParquetFile``; ``MmfeatError`` naming ``path`` if it is not readable Parquet."""
    import fsspec
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if "://" in path:
            return pq.ParquetFile(fsspec.open(path, "rb").open())
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise MmfeatError(f"{path}: not a readable Parquet file ({exc}); is it truncated or still being "
                          f"written?") from None


def row_group_shards(path: str, target: int) -> list[FileShard]:
    """Shards of consecutive row groups holding about ``target`` compressed bytes each."""
    meta = open_parquet(path).metadata
    shards, start, first, size, row = [], 0, 1, 0, 1
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        size += sum(group.column(c).total_compressed_size for c in range(group.num_columns))
        row += group.num_rows
        if size >= target and g + 1 < meta.num_row_groups:
            shards.append(FileShard(path, start, g + 1, first))
            start, first, size = g + 1, row, 0
    shards.append(FileShard(path, start, None if not shards else meta.num_row_groups, first))
    return shards


class ParquetFormat:
    """Reads the id and value columns of a shard's row groups."""

    def __init__(self, checker):
        self.checker = checker
        names = (checker.id_column, checker.column, checker.timestamp_column)  # the timestamp one is optional
        self.columns = list(dict.fromkeys(n for n in names if n))

    def read(self, shard: FileShard):
        pf = open_parquet(shard.path)
        end = pf.metadata.num_row_groups if shard.end is None else shard.end
        first = shard.first_line
        for g in range(shard.start, end):
            n_rows = pf.metadata.row_group(g).num_rows
            yield from self._group(pf, shard.path, g, first, range(n_rows))
            first += n_rows

    def fetch(self, shard: FileShard, refs):
        pf = open_parquet(shard.path)
        starts, row = [], 0
        for g in range(pf.metadata.num_row_groups):
            starts.append(row)
            row += pf.metadata.row_group(g).num_rows
        wanted: dict[int, list[int]] = {}
        for ref in refs:
            g = _group_of(starts, ref, row)
            wanted.setdefault(g, []).append(ref - starts[g])
        for g, offsets in wanted.items():
            yield from self._group(pf, shard.path, g, starts[g] + 1, offsets, one_per_row=True)

    def _group(self, pf, path, g, first_line, offsets, one_per_row=False):
        """Items for rows ``offsets`` (ascending) of row group ``g``, whose first row is line ``first_line``."""
        import pyarrow as pa

        wanted, done = set(offsets), []
        try:
            index = 0
            for batch in pf.iter_batches(batch_size=_BATCH, row_groups=[g], columns=self.columns):
                items = []
                for i, row in enumerate(batch.to_pylist(), start=index):
                    if i in wanted:
                        items.append(self.checker(row, path, first_line + i, first_line + i - 1))
                        done.append(i)
                index += batch.num_rows
                yield from items
        except (pa.ArrowException, OSError, ValueError) as exc:
            if one_per_row:  # fetch answers every ref, even when its group broke since it was read
                for i in sorted(wanted.difference(done)):
                    yield ErrorRow(locator(path, first_line + i), "read", f"row group {g} unreadable: {exc}",
                                   path, first_line + i)
                return
            yield ErrorRow(f"{path}:row-group-{g}", "read", f"row group {g} ({len(offsets) - len(done)} rows "
                           f"from row {first_line + len(done)}) cannot be decoded: {exc}", path,
                           first_line + len(done))

def _group_of(starts: list[int], ref: int, total: int) -> int:
    import bisect

    if not 0 <= ref < total:
        raise MmfeatError(f"row ref {ref} is outside the file's {total} rows")
    return bisect.bisect_right(starts, ref) - 1
