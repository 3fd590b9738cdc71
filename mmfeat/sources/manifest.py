"""``ManifestSource``: CSV, JSONL or Parquet manifests, local paths, globs or fsspec URIs.

Each matching file is one shard. Rows stream: CSV and JSONL line by line,
Parquet one record batch at a time, so a manifest never has to fit in memory.
For image and audio feature sets the column holds file references: absolute
paths and URIs are used as they are, relative paths are resolved against the
manifest's own directory (so a dataset directory can be moved as a whole).
"""
import csv
import io
import json
import os
import posixpath
from typing import Iterator

import fsspec

from mmfeat.errors import MmfeatError
from mmfeat.records import ErrorRow, Record, locator
from mmfeat.sources import SOURCES
from mmfeat.sources.base import Source

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}


def format_of(path: str) -> str:
    """The manifest format implied by a file name, or a job-level error naming it."""
    for suffix, fmt in FORMATS.items():
        if path.lower().endswith(suffix):
            return fmt
    raise MmfeatError(f"{path}: cannot tell the manifest format; use a .csv, .jsonl or .parquet file")


def resolve_reference(ref: str, manifest: str) -> str:
    """A file reference read from ``manifest``: URIs and absolute paths as given, relative ones
    against the manifest's directory (made absolute for local manifests, so workers agree)."""
    if "://" in ref or posixpath.isabs(ref):
        return ref
    if ref.startswith("~"):
        return os.path.expanduser(ref)
    if "://" in manifest:
        return posixpath.join(posixpath.dirname(manifest), ref)
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(manifest)), ref))


@SOURCES.register("manifest")
class ManifestSource(Source):
    """Reads ``id_column`` and ``column`` from every file matching ``patterns``."""

    def __init__(self, patterns, *, column: str, id_column: str = "id", modality: str = "text"):
        self.patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        self.column = column
        self.id_column = id_column
        self.resolve_paths = modality != "text"

    def list_shards(self) -> list[str]:
        paths = []
        for pattern in self.patterns:
            fs, path = fsspec.core.url_to_fs(pattern)
            matches = fs.glob(path) if fsspec.core.has_magic(path) else [path] if fs.isfile(path) else []
            if not matches:
                raise MmfeatError(f"{pattern}: no manifest file matches; check the --input path or glob")
            paths.extend(fs.unstrip_protocol(m) if "://" in pattern else m for m in matches)
        paths = sorted(set(paths))
        for path in paths:
            self._check_columns(path)
        return paths

    def _check_columns(self, path: str) -> None:
        """Fail the job up front if a CSV header or Parquet schema lacks a needed column."""
        fmt = format_of(path)
        if fmt == "jsonl":
            return  # JSON rows carry their own keys; a missing one is a row error.
        if fmt == "csv":
            with fsspec.open(path, "rt", encoding="utf-8", errors="replace", newline="") as f:
                names = next(csv.reader(f), [])
        else:
            import pyarrow.parquet as pq

            with fsspec.open(path, "rb") as f:
                names = pq.ParquetFile(f).schema_arrow.names
        for name in (self.id_column, self.column):
            if names and name not in names:
                raise MmfeatError(
                    f"{path}: no column {name!r} (columns: {', '.join(names)}); "
                    f"set input.column / input.id_column in the feature YAML or --id-column"
                )

    def read_shard(self, shard: str) -> Iterator[Record | ErrorRow]:
        reader = {"csv": self._read_csv, "jsonl": self._read_jsonl, "parquet": self._read_parquet}
        yield from reader[format_of(shard)](shard)

    def _row(self, row: dict, source: str, line: int) -> Record | ErrorRow:
        id_ = row.get(self.id_column)
        if id_ is None or (isinstance(id_, str) and not id_.strip()):
            return ErrorRow(locator(source, line), "read", f"missing id column {self.id_column!r}", source, line)
        if isinstance(id_, float) or not isinstance(id_, (str, int)):
            return ErrorRow(locator(source, line), "read", f"id must be a string or integer, got {id_!r}", source, line)
        if self.column not in row:
            return ErrorRow(str(id_), "read", f"missing field {self.column!r}", source, line)
        value = row[self.column]
        if self.resolve_paths and isinstance(value, str) and value.strip():
            value = resolve_reference(value.strip(), source)
        return Record(str(id_), value, source, line, line)

    def _read_jsonl(self, path: str):
        with fsspec.open(path, "rt", encoding="utf-8", errors="strict") as f:
            line = 0
            while True:
                line += 1
                try:
                    text = f.readline()
                except UnicodeDecodeError as exc:
                    # The rest of the file cannot be located reliably after a decode error.
                    yield ErrorRow(locator(path, line), "read", f"not UTF-8 from here on: {exc}", path, line)
                    return
                if not text:
                    return
                if not text.strip():
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as exc:
                    yield ErrorRow(locator(path, line), "read", f"bad JSON: {exc.msg} at column {exc.colno}", path, line)
                    continue
                if not isinstance(row, dict):
                    yield ErrorRow(locator(path, line), "read", f"expected a JSON object, got {type(row).__name__}", path, line)
                    continue
                yield self._row(row, path, line)

    def _read_csv(self, path: str):
        with fsspec.open(path, "rb") as raw:
            f = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                return
            line = reader.line_num
            for fields in reader:
                start, line = line + 1, reader.line_num
                if not any(fields):
                    continue
                if len(fields) != len(header):
                    reason = f"expected {len(header)} fields, got {len(fields)}"
                    yield ErrorRow(locator(path, start), "read", reason, path, start)
                    continue
                yield self._row(dict(zip(header, fields)), path, start)

    def _read_parquet(self, path: str):
        import pyarrow.parquet as pq

        with fsspec.open(path, "rb") as f:
            pf = pq.ParquetFile(f)
            row_number = 0
            for batch in pf.iter_batches(columns=[self.id_column, self.column], batch_size=4096):
                for row in batch.to_pylist():
                    row_number += 1
                    yield self._row(row, path, row_number)
