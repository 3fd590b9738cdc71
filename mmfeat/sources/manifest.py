"""``ManifestSource``: CSV, JSONL or Parquet manifests, local paths, globs or fsspec URIs.

Large files are split across read tasks (``shard_bytes``, 64 MiB by default):
CSV and JSONL by byte range on record boundaries, Parquet by row groups; line
numbers stay global to the file. Compressed manifests (``.gz``, ``.bz2``,
``.xz``, ``.zst``) are one shard each, decompressed as a stream; their refs
still work (``fetch`` decompresses up to them). Rows stream, so a manifest never
has to fit in memory. For image and audio feature sets the column holds file
references: absolute paths and URIs are used as they are, relative paths are
resolved against the manifest's own directory. With ``timestamp_column`` each
row carries its event time (see ``mmfeat.sources.timestamps``); a CSV header or
Parquet schema without that column fails the job, a JSONL row without it is an
error row.
"""
import contextlib
import io
from typing import Iterator

import fsspec

from mmfeat.errors import MmfeatError
from mmfeat.records import ErrorRow, Record
from mmfeat.sources import SOURCES
from mmfeat.sources.base import Source
from mmfeat.sources.framing import split_points
from mmfeat.sources.line_formats import CsvFormat, JsonlFormat
from mmfeat.sources.parquet_format import ParquetFormat, open_parquet, row_group_shards
from mmfeat.sources.rows import RowChecker
from mmfeat.sources.shards import DEFAULT_SHARD_BYTES, FileShard, check_shard_bytes

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}


def compression_of(path: str) -> str | None:
    """The compression implied by the file name (fsspec's name for it), or None."""
    return next((c for suffix, c in COMPRESSIONS.items() if path.lower().endswith(suffix)), None)


def format_of(path: str) -> str:
    """The manifest format implied by a file name (after any compression suffix), or a job-level error."""
    name = path.lower()
    for suffix in COMPRESSIONS:
        name = name.removesuffix(suffix)
    for suffix, fmt in FORMATS.items():
        if name.endswith(suffix):
            return fmt
    raise MmfeatError(f"{path}: cannot tell the manifest format; use a .csv, .jsonl or .parquet file "
                      f"(optionally compressed: {', '.join(COMPRESSIONS)})")


def check_encoding(encoding: str) -> str:
    """Manifests are framed on ``\\n`` and ``"`` bytes, so only ASCII-compatible encodings work."""
    import codecs

    try:
        codecs.lookup(encoding)
    except LookupError:
        raise MmfeatError(f"input.encoding: unknown encoding {encoding!r}") from None
    if '\n",'.encode(encoding, "replace") != b'\n",' or encoding.lower().replace("-", "") in ("utf16", "utf32"):
        raise MmfeatError(f"input.encoding: {encoding!r} is not ASCII-compatible; convert the file to UTF-8")
    return encoding


@contextlib.contextmanager
def _open(path: str):
    """The manifest as a binary stream with ``readline``, decompressed when its name says so."""
    compression = compression_of(path)
    if compression and compression not in fsspec.available_compressions():
        raise MmfeatError(f"{path}: reading {compression} needs a package: "
                          f"pip install {'zstandard' if compression == 'zstd' else compression}")
    if "://" not in path and not compression:
        with open(path, "rb") as f:  # fsspec's local wrapper costs a call per readline
            yield f
        return
    with fsspec.open(path, "rb", compression=compression) as f:
        # zstandard's reader has no readline: buffer it (it then reads forward only).
        yield io.BufferedReader(f) if compression == "zstd" else f


@SOURCES.register("manifest")
class ManifestSource(Source):
    """Reads ``id_column`` and ``column`` from every file matching ``patterns``."""

    def __init__(self, patterns, *, column: str, id_column: str = "id", modality: str = "text",
                 shard_bytes: int = DEFAULT_SHARD_BYTES, encoding: str = "utf-8", timestamp_column: str | None = None):
        self.patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        self.column = column
        self.id_column = id_column
        self.timestamp_column = timestamp_column
        self.shard_bytes = check_shard_bytes(shard_bytes)
        self.encoding = check_encoding(encoding)
        self.checker = RowChecker(column=column, id_column=id_column, resolve_paths=modality != "text",
                                  timestamp_column=timestamp_column)

    def list_shards(self) -> list[FileShard]:
        paths = []
        for pattern in self.patterns:
            fs, path = fsspec.core.url_to_fs(pattern)
            matches = fs.glob(path) if fsspec.core.has_magic(path) else [path] if fs.isfile(path) else []
            if not matches:
                raise MmfeatError(f"{pattern}: no manifest file matches; check the --input path or glob")
            paths.extend(fs.unstrip_protocol(m) if "://" in pattern else m for m in matches)
        shards = []
        for path in sorted(set(paths)):
            self._check_columns(path)
            shards.extend(self._split(path))
        return shards

    def _split(self, path: str) -> list[FileShard]:
        """One shard per ``shard_bytes`` of the file, on record boundaries (compressed files: one shard)."""
        fmt = format_of(path)
        if fmt == "parquet":
            return row_group_shards(path, self.shard_bytes)
        if compression_of(path):
            return [FileShard(path)]
        fs, local = fsspec.core.url_to_fs(path)
        if fs.size(local) <= self.shard_bytes:
            return [FileShard(path)]
        with _open(path) as f:
            points = split_points(f, target=self.shard_bytes, quoted=fmt == "csv")
        bounds = [(0, 1), *points]
        return [FileShard(path, start, bounds[i + 1][0] if i + 1 < len(bounds) else None, line)
                for i, (start, line) in enumerate(bounds)]

    def _line_format(self, fmt: str):
        return (CsvFormat if fmt == "csv" else JsonlFormat)(self.checker, self.encoding)

    @staticmethod
    def _header(lines, path: str):
        with _open(path) as f:
            return lines.header(f, path)

    def _check_columns(self, path: str) -> None:
        """Fail the job up front if a CSV header or Parquet schema lacks a needed column."""
        fmt = format_of(path)
        if fmt == "jsonl":
            return  # JSON rows carry their own keys; a missing one is a row error.
        if fmt == "csv":
            names = self._header(self._line_format(fmt), path) or []
        else:
            names = open_parquet(path).schema_arrow.names
        for name in (self.id_column, self.column):
            if names and name not in names:
                raise MmfeatError(
                    f"{path}: no column {name!r} (columns: {', '.join(names)}); "
                    f"set input.column / input.id_column in the feature YAML or --id-column"
                )
        if names and self.timestamp_column and self.timestamp_column not in names:
            raise MmfeatError(f"{path}: no timestamp column {self.timestamp_column!r} (columns: {', '.join(names)}); "
                              f"fix input.timestamp_column in the feature YAML, or remove it to use the commit time")

    def read_shard(self, shard) -> Iterator[Record | ErrorRow]:
        shard = shard if isinstance(shard, FileShard) else FileShard(shard)
        fmt = format_of(shard.path)
        if fmt == "parquet":
            yield from ParquetFormat(self.checker).read(shard)
            return
        lines = self._line_format(fmt)
        header = self._header(lines, shard.path)
        with _open(shard.path) as f:
            yield from lines.read(f, shard, header)

    def fetch(self, shard, refs) -> Iterator[Record | ErrorRow]:
        shard = shard if isinstance(shard, FileShard) else FileShard(shard)
        fmt = format_of(shard.path)
        if fmt == "parquet":
            yield from ParquetFormat(self.checker).fetch(shard, refs)
            return
        lines = self._line_format(fmt)
        header = self._header(lines, shard.path)
        with _open(shard.path) as f:
            yield from lines.fetch(f, shard, refs, header)
