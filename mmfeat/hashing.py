"""File checksums: sha256 of a file, and of a model directory's files.

Model weights are hundreds of MB, and a rerun that recomputes nothing must not
spend its time rehashing them, so directory hashes are memoised in
``$MMFEAT_CACHE`` (default ``~/.cache/mmfeat``) keyed by path, size and mtime.
"""
import hashlib
import json
import logging
import os
from pathlib import Path

_CHUNK = 1 << 20
log = logging.getLogger(__name__)
# Files in a model directory that never change what the model computes.
_IGNORED = {"README.md", ".gitattributes", ".gitignore"}


def sha256_file(path) -> str:
    """Hex sha256 of one file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _cache_path() -> Path:
    return Path(os.environ.get("MMFEAT_CACHE", Path.home() / ".cache" / "mmfeat")) / "file_hashes.json"


def _cached_sha256(path: Path, cache: dict) -> str:
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    if key not in cache:
        cache[key] = sha256_file(path)
    return cache[key]


def sha256_tree(root) -> str:
    """Hex sha256 over every file under ``root`` (relative names and contents).

    Used as a model's identity: the same weights, config and tokenizer files give
    the same digest wherever they are installed.
    """
    root = Path(root)
    cache_file = _cache_path()
    try:
        cache = json.loads(cache_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        cache = {}
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if path.name in _IGNORED or rel.startswith(".") or "/." in rel:
            continue
        h.update(f"{rel}\0{_cached_sha256(path, cache)}\n".encode())
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache))
        os.replace(tmp, cache_file)
    except OSError as exc:
        # A read-only home only costs a rehash next time; the digest is still right.
        log.warning("cannot update the hash cache %s (%s); model files will be rehashed next run", cache_file, exc)
    return h.hexdigest()
