"""``FileShard``: a bounded piece of one input file, and the refs that locate rows inside it.

A shard is what one read task reads. It is small and picklable, and prints as
its file (plus the range when it is a part), so messages can name it. Large
CSV/JSONL manifests are split by byte range on record boundaries, Parquet
files by row groups; ``first_line`` keeps line numbers global to the file.

Refs are opaque ascending ints that a source decodes in ``fetch``. For text
manifests a ref packs the record's byte offset and line within the shard
(``pack``), so a row is re-read with one seek and keeps its exact line number.
"""
from dataclasses import dataclass

DEFAULT_SHARD_BYTES = 64 * 1024 * 1024
MAX_SHARD_BYTES = 2 ** 31  # refs pack a shard-relative offset in 31 bits
_LINE_BITS = 32


@dataclass(frozen=True)
class FileShard:
    """Rows of ``path`` that start in ``[start, end)``: bytes for CSV/JSONL, row groups for Parquet.

    ``end`` None means to the end of the file. ``first_line`` is the line (or
    1-based row number) of the first row the shard holds.
    """

    path: str
    start: int = 0
    end: int | None = None
    first_line: int = 1

    @property
    def whole(self) -> bool:
        """Whether the shard is the whole file."""
        return self.start == 0 and self.end is None

    def __str__(self) -> str:
        return self.path if self.whole else f"{self.path}[{self.start}:{'' if self.end is None else self.end}]"


def pack(offset: int, line: int) -> int | None:
    """A ref from a shard-relative byte offset and line index (both >= 0); None if they do not fit
    (a compressed file decompressing past 2 GiB): such rows travel with their values instead."""
    if offset >= MAX_SHARD_BYTES or line >= 1 << _LINE_BITS:
        return None
    return (offset << _LINE_BITS) | line


def unpack(ref: int) -> tuple[int, int]:
    """Inverse of ``pack``: ``(offset, line)`` relative to the shard."""
    return ref >> _LINE_BITS, ref & ((1 << _LINE_BITS) - 1)


def check_shard_bytes(value: int) -> int:
    """Validate a split size: at least 1 byte, at most ``MAX_SHARD_BYTES``."""
    if not 1 <= value <= MAX_SHARD_BYTES:
        raise ValueError(f"shard_bytes must be in 1..{MAX_SHARD_BYTES}, got {value}")
    return value
