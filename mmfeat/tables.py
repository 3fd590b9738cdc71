"""Read a small side table (labels, metadata) from CSV, JSONL or Parquet, keyed by a string id."""
import pyarrow as pa

from mmfeat.errors import MmfeatError


def read_table(path: str, *, id_column: str = "id", columns=()) -> pa.Table:
    """``path`` as an Arrow table with ``id_column`` cast to string; job-level errors name the file and column."""
    import fsspec
    import pyarrow.csv as pcsv
    import pyarrow.json as pjson
    import pyarrow.parquet as pq

    lower = path.lower()
    try:
        with fsspec.open(path, "rb") as f:
            if lower.endswith(".parquet"):
                table = pq.read_table(f)
            elif lower.endswith(".csv"):
                table = pcsv.read_csv(f, convert_options=pcsv.ConvertOptions(column_types={id_column: pa.string()}))
            elif lower.endswith((".jsonl", ".ndjson", ".json")):
                table = pjson.read_json(f)
            else:
                raise MmfeatError(f"{path}: use a .csv, .jsonl or .parquet file")
    except FileNotFoundError:
        raise MmfeatError(f"{path}: file not found") from None
    except pa.ArrowInvalid as exc:
        raise MmfeatError(f"{path}: cannot parse: {exc}") from None
    missing = [c for c in (id_column, *columns) if c not in table.column_names]
    if missing:
        raise MmfeatError(f"{path}: no column(s) {', '.join(map(repr, missing))} "
                          f"(columns: {', '.join(table.column_names)})")
    ids = table[id_column].cast(pa.string())
    if ids.null_count:
        raise MmfeatError(f"{path}: {ids.null_count} row(s) have no {id_column!r}")
    table = table.set_column(table.column_names.index(id_column), id_column, ids)
    if len(set(ids.to_pylist())) != table.num_rows:
        raise MmfeatError(f"{path}: column {id_column!r} has duplicate ids")
    return table.select([id_column, *columns]) if columns else table
