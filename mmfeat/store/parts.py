"""Parquet part files: write atomically with a checksum, read back verified.

Parquet rather than Arrow IPC because pandas, pyarrow.dataset, duckdb and Spark
all read it natively with no extension. Embeddings are stored uncompressed and
without dictionary or statistics pages (random floats gain nothing from them),
so a read is a straight copy; ids and keys are zstd-compressed.
"""
import io
from hashlib import sha256
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mmfeat.errors import ChecksumError, StoreError
from mmfeat.hashing import sha256_file
from mmfeat.records import ERROR_COLUMNS
from mmfeat.store.files import publish, temp_path

VECTOR_COLUMNS = ("embedding", "chunks")
ERRORS_SCHEMA = pa.schema(
    [("id", pa.string()), ("stage", pa.string()), ("reason", pa.string()), ("source", pa.string()),
     ("line", pa.int64()), ("run_id", pa.string())]
)


def vectors_array(vectors: np.ndarray) -> pa.FixedSizeListArray:
    """A (n, dim) array as a fixed-size-list column, without copying the floats."""
    vectors = np.ascontiguousarray(vectors)
    return pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), vectors.shape[1])


def sequences_array(sequences: list[np.ndarray]) -> pa.ListArray:
    """Variable-length sequences of equal-dim vectors as ``list<fixed_size_list<float>>``."""
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sequences])]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), vectors_array(np.concatenate(sequences)))


def data_table(ids: list[str], vectors: np.ndarray, content_keys: list[str],
               chunks: list[np.ndarray] | None = None) -> pa.Table:
    """Build a data table: ``id``, fixed-size-list ``embedding``, ``content_key`` and, for
    feature sets that keep them, ``chunks`` (each row's per-window vectors, in order)."""
    columns = {"id": pa.array(ids, pa.string()), "embedding": vectors_array(vectors),
               "content_key": pa.array(content_keys, pa.string())}
    if chunks is not None:
        columns["chunks"] = sequences_array(chunks)
    return pa.table(columns)


def errors_table(rows, run_id: str) -> pa.Table:
    """Build an errors table from ErrorRows."""
    columns = {name: [getattr(r, name) for r in rows] for name in ERROR_COLUMNS}
    columns["run_id"] = [run_id] * len(rows)
    return pa.table(columns, schema=ERRORS_SCHEMA)


def write_part(table: pa.Table, final: Path, kind: str, set_dir: Path) -> dict:
    """Write ``table`` to ``final`` atomically; return the log entry describing it."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(final)
    compression = {name: ("none" if name in VECTOR_COLUMNS else "zstd") for name in table.column_names}
    pq.write_table(table, tmp, compression=compression, use_dictionary=False,
                   write_statistics=[n for n in table.column_names if n not in VECTOR_COLUMNS])
    digest = publish(tmp, final)
    return {"path": final.relative_to(set_dir).as_posix(), "kind": kind, "rows": table.num_rows,
            "sha256": digest, "bytes": final.stat().st_size}


def discard(set_dir: Path, entries: list[dict]) -> None:
    """Delete the files of entries that were written but never committed (a lost commit race)."""
    for entry in entries:
        (Path(set_dir) / entry["path"]).unlink(missing_ok=True)


def read_part(set_dir: Path, entry: dict, columns=None, verify: bool = True) -> pa.Table:
    """Read one committed part; with ``verify`` its bytes must match the recorded sha256."""
    path = Path(set_dir) / entry["path"]
    try:
        if not verify:
            return pq.read_table(path, columns=columns)
        data = path.read_bytes()
    except FileNotFoundError:
        raise ChecksumError(
            f"{path}: committed file is missing. Run `mmfeat repair --store ... {Path(set_dir).name}` to drop it "
            f"from the store; the next extract recomputes its rows."
        ) from None
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(f"{path}: cannot read committed file: {exc}") from exc
    if sha256(data).hexdigest() != entry["sha256"]:
        raise ChecksumError(
            f"{path}: checksum mismatch, the file changed after it was committed. Run "
            f"`mmfeat repair --store ... {Path(set_dir).name}` to drop damaged files; the next extract "
            f"recomputes their rows."
        )
    return pq.read_table(io.BytesIO(data), columns=columns)


def verify_part(set_dir: Path, entry: dict) -> str | None:
    """Return why a committed part is damaged, or None if it matches its checksum."""
    path = Path(set_dir) / entry["path"]
    if not path.exists():
        return "missing"
    if sha256_file(path) != entry["sha256"]:
        return "checksum mismatch"
    return None
