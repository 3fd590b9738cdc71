"""Records of line-based manifests (CSV, JSONL) as byte frames, and split points between them.

A JSONL record is one line. A CSV record is one line, or several while a quote
is open: it ends at the first newline where the record holds an even number of
``"`` characters. ``split_points`` applies the same rule to the whole file with
C-speed counts, so a file split into many shards frames exactly the records one
shard would, with exact line numbers. Lines end in ``\\n`` (``\\r\\n`` is fine).
"""
import io
from typing import Iterator, NamedTuple

MAX_RECORD_BYTES = 16 * 1024 * 1024
_CHUNK = 1024 * 1024
_BLOCK = 8 * 1024 * 1024


class Frame(NamedTuple):
    """One record's bytes. ``data`` is None when it is larger than the cap (its bytes were dropped)."""

    offset: int
    line: int
    n_lines: int
    data: bytes | None
    size: int


def frames(f, *, start: int, end: int | None, first_line: int, quoted: bool,
           max_bytes: int = MAX_RECORD_BYTES) -> Iterator[Frame]:
    """Frames of the records starting in ``[start, end)`` of binary file ``f``."""
    seek(f, start)
    offset, line = start, first_line
    while end is None or offset < end:
        chunk = f.readline(_CHUNK)
        if not chunk:
            return
        if chunk[-1:] == b"\n" and not (quoted and chunk.count(b'"') & 1):
            yield Frame(offset, line, 1, chunk, len(chunk))  # the common case: a whole one-line record
            offset, line = offset + len(chunk), line + 1
            continue
        frame, newlines = _rest_of_record(f, chunk, offset, line, quoted, max_bytes)
        yield frame
        offset, line = offset + frame.size, line + newlines


def _rest_of_record(f, chunk: bytes, offset: int, line: int, quoted: bool, max_bytes: int):
    """``(frame, newlines)`` of a record whose first read was ``chunk``: read on until a newline ends it
    (with an even quote count for CSV) or the file ends. Bytes past ``max_bytes`` are not kept."""
    parts, size, quotes, newlines, last = [], 0, 0, 0, b""
    while chunk:
        last = chunk
        size += len(chunk)
        if quoted:
            quotes += chunk.count(b'"')
        if parts is not None and size <= max_bytes:
            parts.append(chunk)
        else:
            parts = None  # too big to keep: framed on, reported by its size
        if chunk.endswith(b"\n"):
            newlines += 1
            if not quoted or quotes % 2 == 0:
                break
        chunk = f.readline(_CHUNK)
    n_lines = newlines + (0 if last.endswith(b"\n") else 1)
    return Frame(offset, line, n_lines, None if parts is None else b"".join(parts), size), newlines


def seek(f, offset: int) -> None:
    """``f.seek(offset)``; streams that cannot seek (zstd) are read forward to ``offset`` instead."""
    try:
        f.seek(offset)
        return
    except (io.UnsupportedOperation, OSError):
        position = f.tell()
    if offset < position:
        raise io.UnsupportedOperation(f"cannot seek back from byte {position} to {offset} in this stream")
    while position < offset:
        chunk = f.read(min(_BLOCK, offset - position))
        if not chunk:
            return
        position += len(chunk)


def split_points(f, *, target: int, quoted: bool) -> list[tuple[int, int]]:
    """``(offset, line)`` of record starts where shards after the first begin, about ``target`` bytes apart."""
    points, offset, lines, parity, want = [], 0, 1, 0, target
    while block := f.read(_BLOCK):
        pos = 0
        while pos < len(block):
            if offset + pos < want:  # far from a split: just count
                stop = min(len(block), want - offset)
                lines += block.count(b"\n", pos, stop)
                parity ^= block.count(b'"', pos, stop) & 1 if quoted else 0
                pos = stop
                continue
            newline = block.find(b"\n", pos)
            stop = len(block) if newline < 0 else newline
            parity ^= block.count(b'"', pos, stop) & 1 if quoted else 0
            pos = stop
            if newline < 0:
                continue
            lines, pos = lines + 1, pos + 1
            if parity == 0:
                points.append((offset + pos, lines))
                want = offset + pos + target
        offset += len(block)
    return [(o, n) for o, n in points if o < offset]  # a split at the very end would be an empty shard
