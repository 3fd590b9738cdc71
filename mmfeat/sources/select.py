"""Pick and build the source for a run: by name, or by the input file names (``auto``)."""
import inspect

from mmfeat.errors import SpecError
from mmfeat.sources import SOURCES

DEFAULT_MAX_BYTES = 256 * 1024 * 1024  # as media encoders' FileLimits.max_bytes


def source_kind(patterns: list[str], modality: str = "text") -> str:
    """``webdataset`` when every input is a tar shard (pattern); for media, ``folder`` when every input
    is a directory or a glob of media files (not manifests); else ``manifest``."""
    from mmfeat.sources.webdataset import is_tar

    if patterns and all(is_tar(p) for p in patterns):
        return "webdataset"
    if modality != "text" and patterns and all(_is_folder_input(p) for p in patterns):
        return "folder"
    return "manifest"


def _is_folder_input(pattern: str) -> bool:
    import fsspec

    from mmfeat.errors import MmfeatError
    from mmfeat.sources.manifest import format_of

    try:
        format_of(pattern)
        return False  # a manifest (or a glob of manifests)
    except MmfeatError:
        pass
    fs, path = fsspec.core.url_to_fs(pattern)
    return fsspec.core.has_magic(path) or fs.isdir(path)


def open_source(patterns, spec, *, kind: str | None = None, id_column: str | None = None):
    """The Source reading ``patterns`` for ``spec``: ``kind`` (or ``spec.input.source``; ``auto`` guesses)."""
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    kind = kind or spec.input.source
    if kind == "auto":
        kind = source_kind(patterns, spec.modality)
    try:
        cls = SOURCES.get(kind)
    except KeyError as exc:
        raise SpecError(f"input.source: {exc.args[0]}") from None
    id_column = id_column or spec.input.id_column
    if kind in ("webdataset", "folder") and id_column == "id":
        id_column = "__key__"
    if kind == "manifest":
        options = {"shard_bytes": spec.input.shard_bytes, "encoding": spec.input.encoding}
    elif kind == "webdataset":
        options = {"max_bytes": getattr(spec.encoder.params, "max_bytes", DEFAULT_MAX_BYTES),
                   "encoding": spec.input.encoding}
    else:
        options = {}
    if spec.input.timestamp_column:  # given only to sources that read per-row times (manifests, plugins)
        if "timestamp_column" not in inspect.signature(cls).parameters:
            raise SpecError(f"input.timestamp_column: {kind} inputs have no columns to read a time from; per-row "
                            f"event times need a CSV, JSONL or Parquet manifest (remove it to use the commit time)")
        options["timestamp_column"] = spec.input.timestamp_column
    return cls(patterns, column=spec.input.column, id_column=id_column, modality=spec.modality, **options)
