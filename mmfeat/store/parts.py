"""Parquet part files: written staged with a checksum, read back verified.

Parquet rather than Arrow IPC because pandas, pyarrow.dataset, duckdb and Spark
all read it natively with no extension. Embeddings are stored uncompressed and
without dictionary or statistics pages (random floats gain nothing from them),
so a read is a straight copy; ids and keys are zstd-compressed.
"""
import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mmfeat.errors import ChecksumError, StoreError
from mmfeat.store.checksums import default_algorithm, digest_bytes, digest_file, matches
from mmfeat.records import ERROR_COLUMNS
from mmfeat.store.files import fsync_file
from mmfeat.store.lifecycle import locate, read_committed, staged_path
from mmfeat.store.objects import ObjectPath, as_path
from mmfeat.store.log_records import repair_hint

VECTOR_COLUMNS = ("embedding", "chunks")
EVENT_TIMESTAMP = pa.field("event_timestamp", pa.timestamp("us", tz="UTC"))
ERRORS_SCHEMA = pa.schema(
    [("id", pa.string()), ("stage", pa.string()), ("reason", pa.string()), ("source", pa.string()),
     ("line", pa.int64()), ("run_id", pa.string()), ("content_key", pa.string()), ("fingerprint", pa.string())]
)
# Columns added after format 1: parts written before them read back with the column all null.
ADDED_COLUMNS = {"data": [EVENT_TIMESTAMP], "errors": [ERRORS_SCHEMA.field("content_key"),
                                                       ERRORS_SCHEMA.field("fingerprint")]}


class PartMissingError(ChecksumError):
    """A part the reader's log state names is in none of its places (published, staged, trashed)."""


def vectors_array(vectors: np.ndarray) -> pa.FixedSizeListArray:
    """A (n, dim) array as a fixed-size-list column, without copying the floats."""
    vectors = np.ascontiguousarray(vectors)
    return pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), vectors.shape[1])


def sequences_array(sequences: list[np.ndarray]) -> pa.ListArray:
    """Variable-length sequences of equal-dim vectors as ``list<fixed_size_list<float>>``."""
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sequences])]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), vectors_array(np.concatenate(sequences)))


def data_table(ids: list[str], vectors: np.ndarray, content_keys: list[str],
               chunks: list[np.ndarray] | None = None, *, event_time: datetime.datetime | None = None,
               event_times: list[int | None] | None = None) -> pa.Table:
    """Build a data table: ``id``, fixed-size-list ``embedding``, ``content_key``, for feature sets
    that keep them ``chunks`` (each row's per-window vectors, in order), and ``event_timestamp``.

    ``event_timestamp`` (UTC, microseconds) is the event time Feast and other
    feature servers ask for: the row's own time from ``event_times`` (UTC epoch
    microseconds, read from the input's timestamp column), else when the rows
    were computed, ``event_time`` or now.
    """
    columns = {"id": pa.array(ids, pa.string()), "embedding": vectors_array(vectors),
               "content_key": pa.array(content_keys, pa.string())}
    if chunks is not None:
        columns["chunks"] = sequences_array(chunks)
    event_time = event_time or datetime.datetime.now(datetime.timezone.utc)
    times = pa.array([event_time] * len(ids), EVENT_TIMESTAMP.type)
    if event_times is not None:
        import pyarrow.compute as pc

        times = pc.fill_null(pa.array(event_times, pa.int64()).cast(EVENT_TIMESTAMP.type), times)
    columns["event_timestamp"] = times
    return pa.table(columns)


def errors_table(rows, run_id: str, fingerprint: str | None = None) -> pa.Table:
    """Build an errors table from ErrorRows; ``content_key`` comes from each row's ``ckey``."""
    columns = {name: [getattr(r, name) for r in rows] for name in ERROR_COLUMNS}
    columns["run_id"] = [run_id] * len(rows)
    columns["content_key"] = [getattr(r, "ckey", None) for r in rows]
    columns["fingerprint"] = [fingerprint] * len(rows)
    return pa.table(columns, schema=ERRORS_SCHEMA)


def conform(table: pa.Table, kind: str, columns=None) -> pa.Table:
    """Add the columns a part written by an older mmfeat lacks (as nulls), when they were asked for."""
    for added in ADDED_COLUMNS[kind]:
        if added.name not in table.column_names and (columns is None or added.name in columns):
            table = table.append_column(added, pa.nulls(table.num_rows, added.type))
    return table


def write_part(table: pa.Table, final: Path, kind: str, set_dir: Path, *, checksum: str | None = None) -> dict:
    """Write ``table`` under the hidden staged name of ``final``; return the log entry describing it.

    The entry names ``final``: ``BucketLog.commit`` publishes the file under
    that name once its record exists. Until then no directory reader sees it.
    A writer whose commit is lost calls ``discard``; a crashed writer's staged
    files are removed by vacuum once old enough.
    """
    final = as_path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staged = staged_path(final)
    compression = {name: ("none" if name in VECTOR_COLUMNS else "zstd") for name in table.column_names}
    options = dict(compression=compression, use_dictionary=False,
                   write_statistics=[n for n in table.column_names if n not in VECTOR_COLUMNS])
    algorithm = checksum or default_algorithm()
    if isinstance(staged, ObjectPath):  # one PUT of the finished file; its checksum from memory
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, **options)
        data = sink.getvalue()
        staged.write_bytes(data)
        digest, size = digest_bytes(data, algorithm), data.size
    else:
        pq.write_table(table, staged, **options)
        fsync_file(staged)
        digest, size = digest_file(staged, algorithm), staged.stat().st_size
    return {"path": final.relative_to(set_dir).as_posix(), "kind": kind, "rows": table.num_rows,
            algorithm: digest, "bytes": size}


def discard(set_dir: Path, entries: list[dict]) -> None:
    """Delete the staged files of entries whose commit was lost (never call it for committed entries)."""
    for entry in entries:
        staged_path(as_path(set_dir) / entry["path"]).unlink(missing_ok=True)


def read_part(set_dir: Path, entry: dict, columns=None, verify: bool = True) -> pa.Table:
    """Read one committed part; with ``verify`` its bytes must match the recorded checksum."""
    named = as_path(set_dir) / entry["path"]
    missing = PartMissingError(f"{named}: committed file is missing. {repair_hint(set_dir)}")
    try:
        if verify:
            found = read_committed(set_dir, entry["path"])
            if found is None:
                raise missing
            if not matches(entry, data=found[1]):
                raise ChecksumError(f"{named}: checksum mismatch, the file changed after it was committed. "
                                    f"{repair_hint(set_dir)}")
            table = pq.read_table(pa.BufferReader(found[1]), columns=columns)
        else:  # only the asked-for columns are read (ranged reads on an object store)
            try:
                f = named.open("rb")
            except FileNotFoundError:  # not published (yet) or replaced since: look in the other places
                path = locate(set_dir, entry["path"])
                if path is None:
                    raise missing from None
                f = path.open("rb")
            with f:
                table = pq.read_table(f, columns=columns)
    except FileNotFoundError:  # moved between locating and reading: the caller re-reads the log
        raise missing from None
    except (pa.ArrowException, OSError) as exc:
        raise StoreError(f"{named}: cannot read committed file: {exc}. {repair_hint(set_dir)}") from exc
    return conform(table, entry["kind"], columns)


def verify_part(set_dir: Path, entry: dict) -> str | None:
    """Return why a committed part is damaged, or None if it matches its checksum."""
    path = locate(set_dir, entry["path"])
    if path is None:
        return "missing"
    try:
        if not matches(entry, path=path):
            return "checksum mismatch"
    except FileNotFoundError:
        return "missing"
    return None
