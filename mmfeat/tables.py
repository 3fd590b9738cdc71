"""Read a small side table (labels, metadata) from CSV, JSONL or Parquet, keyed by a string id.

The file is read into memory first and parsed from a pyarrow buffer. Parsing
straight from an fsspec (Python) file object let pyarrow's CSV reader threads
call back into Python and abort the process now and then (SIGABRT, exit 134);
a native buffer has no such callbacks. The CSV reader also runs on the calling
thread (``use_threads=False``): with torch loaded, a process that exits right
after a threaded read could still abort in its thread pool's teardown ("terminate
called without an active exception"). Side tables are small; threads gain nothing.
"""
import pyarrow as pa

from mmfeat.errors import MmfeatError


def _parse(data: bytes, lower: str, path: str, id_column: str) -> pa.Table:
    import pyarrow.csv as pcsv
    import pyarrow.json as pjson
    import pyarrow.parquet as pq

    buffer = pa.BufferReader(data)
    if lower.endswith(".parquet"):
        return pq.read_table(buffer)
    if lower.endswith(".csv"):
        # Only an empty field is missing: "nan" or "NA" stay values, so a NaN target is seen and refused.
        convert = pcsv.ConvertOptions(column_types={id_column: pa.string()}, null_values=[""],
                                      strings_can_be_null=True)
        return pcsv.read_csv(buffer, read_options=pcsv.ReadOptions(use_threads=False), convert_options=convert)
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return pjson.read_json(buffer, read_options=pjson.ReadOptions(use_threads=False))
    raise MmfeatError(f"{path}: use a .csv, .jsonl or .parquet file")


def read_table(path: str, *, id_column: str = "id", columns=(), where: str | None = None) -> pa.Table:
    """``path`` as an Arrow table with ``id_column`` cast to string; job-level errors name the file and column.

    ``where`` names the config section the file comes from (e.g. ``"labels"``), so a
    missing column is reported with the setting that names it.
    """
    import fsspec

    lower = str(path).lower()
    setting = f" ({where}.path)" if where else ""
    try:
        with fsspec.open(path, "rb") as f:
            data = f.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise MmfeatError(f"{path}: file not found{setting}") from None
    try:
        table = _parse(data, lower, path, id_column)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise MmfeatError(f"{path}: cannot parse: {exc}") from None
    missing = [c for c in dict.fromkeys((id_column, *columns)) if c not in table.column_names]
    if missing:
        raise MmfeatError(f"{path}: no column(s) {', '.join(map(repr, missing))}"
                          f"{f' named in {where}' if where else ''} (columns: {', '.join(table.column_names)})")
    ids = table[id_column].cast(pa.string())
    if ids.null_count:
        raise MmfeatError(f"{path}: {ids.null_count} row(s) have no {id_column!r}")
    table = table.set_column(table.column_names.index(id_column), id_column, ids)
    if len(set(ids.to_pylist())) != table.num_rows:
        raise MmfeatError(f"{path}: column {id_column!r} has duplicate ids")
    return table.select(list(dict.fromkeys([id_column, *columns]))) if columns else table
