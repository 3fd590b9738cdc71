"""Where things live in a store, and the store-wide settings file.

    ROOT/mmfeat_store.json                      format, n_buckets
    ROOT/NAME/feature_set.json                  spec, fingerprint, model identity, lineage
    ROOT/NAME/data/bucket=NNNNN/part-*.parquet  id, embedding, content_key, [chunks], event_timestamp
    ROOT/NAME/errors/bucket=NNNNN/part-*.parquet id, stage, reason, source, line, run_id, content_key, fingerprint
    ROOT/NAME/data/bucket=NNNNN/.part-*.parquet.staged  written, not yet published by its commit (hidden)
    ROOT/NAME/_log/bucket=NNNNN/VVVVVVVV.json   commit log (what is live, checksums, hash chain)
    ROOT/NAME/_trash/data/bucket=NNNNN/part-*   parts a commit replaced; deleted by vacuum after a minimum age
    ROOT/NAME/_quarantine/STAMP/...             files `mmfeat repair` took out of the store (kept for inspection)
    ROOT/NAME/_runs/RUN_ID/units/TOKEN.json     finished units' stats, a batch a file (added up into the report)
    ROOT/NAME/runs/RUN_ID.json                  the merged run report
"""
import json
import re
from pathlib import Path

from mmfeat.errors import StoreError
from mmfeat.store.files import create_exclusive_json
from mmfeat.store.objects import ObjectPath, is_url, open_url

STORE_FILE = "mmfeat_store.json"
STORE_FORMAT = 1
DEFAULT_BUCKETS = 16


def open_root(root, *, create: bool, n_buckets: int | None,
              storage_options: dict | None = None) -> tuple[Path | ObjectPath, int]:
    """Return the store root and its bucket count, creating the store if asked.

    ``root`` is a local path or an object-store URL (``s3://``, ``gs://``,
    ``az://``, see ``mmfeat.store.objects``); ``storage_options`` go to fsspec.
    """
    root = store_path(root, storage_options)
    settings_file = root / STORE_FILE
    try:
        settings = json.loads(settings_file.read_text())
    except FileNotFoundError:
        if not create:
            raise StoreError(f"{root}: no feature store here ({STORE_FILE} missing); `mmfeat extract` creates one")
        if n_buckets is not None and not 1 <= n_buckets <= 65536:
            raise StoreError(f"n_buckets must be between 1 and 65536, got {n_buckets}")
        create_exclusive_json(settings_file, {"format": STORE_FORMAT, "n_buckets": n_buckets or DEFAULT_BUCKETS})
        settings = json.loads(settings_file.read_text())
    if settings.get("format") != STORE_FORMAT:
        raise StoreError(f"{settings_file}: store format {settings.get('format')} is not supported by this mmfeat")
    if n_buckets is not None and n_buckets != settings["n_buckets"]:
        raise StoreError(
            f"{root}: the store has {settings['n_buckets']} buckets, not {n_buckets}; the bucket count is "
            f"fixed when a store is created so feature sets stay joinable"
        )
    return root, int(settings["n_buckets"])


def store_path(root, storage_options: dict | None = None):
    """The store root as a path: an ``ObjectPath`` for an object-store URL, else a resolved local ``Path``."""
    if is_url(root):
        return open_url(str(root), storage_options)
    if storage_options:
        raise StoreError(f"{root}: storage options apply to object-store URLs (s3://, gs://, az://), "
                         f"not to a local path")
    return Path(str(root).removeprefix("file://")).expanduser().resolve()


def bucket_dir(set_dir: Path, kind: str, bucket: int) -> Path:
    """The directory holding one bucket's ``data`` or ``errors`` parts."""
    return set_dir / kind / f"bucket={bucket:05d}"


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus 8 random hex digits (names parts, reports, stats)."""
    import time
    import uuid

    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:8]}"


KINDS = ("data", "errors")
_BUCKET_DIR = re.compile(r"bucket=(\d{5})")
_ENTRY_PATH = re.compile(r"(data|errors)/bucket=(\d{5})/([^/\\]+)")


def check_name(name: str) -> str:
    """Return ``name`` if it is a plain feature-set name; refuse paths (``../x``, ``a/b``) and hidden names.

    Names become directories under the store root, so anything that could
    step outside it, or hide from listings, is refused before it is used.
    """
    if (not isinstance(name, str) or not name or name in (".", "..") or name[0] in "._"
            or any(c in name for c in "/\\\0") or name != name.strip()):
        raise StoreError(f"{name!r} is not a feature-set name: use letters, digits, '-', '_' or '.', "
                         f"with no path separators and no leading '.' or '_'")
    return name


def entry_path_problem(rel, bucket: int, kind: str | None = None) -> str | None:
    """Why ``rel`` (a path from a commit record) is not a part of ``bucket``, or None if it is.

    Only plain relative paths ``data|errors/bucket=NNNNN/NAME`` of this very
    bucket are accepted: a log path is never followed outside its set.
    """
    match = _ENTRY_PATH.fullmatch(rel) if isinstance(rel, str) else None
    if not match:
        return f"path {rel!r} is not data/bucket=NNNNN/NAME or errors/bucket=NNNNN/NAME"
    name = match.group(3)
    if name in (".", "..") or name.startswith((".", "_")):
        return f"path {rel!r} names a hidden or special file"
    if int(match.group(2)) != bucket:
        return f"path {rel!r} belongs to another bucket than {bucket}"
    if kind is not None and match.group(1) != kind:
        return f"path {rel!r} is not under {kind}/"
    return None


def bucket_number(dirname: str) -> int | None:
    """The bucket number of a ``bucket=NNNNN`` directory name, or None for any other name."""
    match = _BUCKET_DIR.fullmatch(dirname)
    return int(match.group(1)) if match else None


def is_visible(name: str) -> bool:
    """Whether directory readers (pyarrow, pandas, duckdb, Spark) see a file of this name."""
    return not name.startswith((".", "_"))
