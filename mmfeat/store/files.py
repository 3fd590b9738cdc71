"""Atomic file primitives: write to a hidden temp name, then publish.

Hidden names (leading ``.``, and a suffix that is not ``.parquet`` or ``.json``,
because duckdb's ``*.parquet`` glob matches dot files) are skipped by
pyarrow.dataset, pandas and duckdb globs, so a crash mid-write leaves nothing a
reader of the directory sees.
"""
import errno
import json
import os
import uuid
from pathlib import Path

from mmfeat.errors import StoreError
from mmfeat.store.objects import ObjectPath

TMP_PREFIX = ".tmp-"
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.ENOSYS}


def temp_path(final: Path) -> Path:
    """A unique hidden sibling of ``final`` to write into before publishing."""
    return final.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}-{final.name}.tmp")


def fsync_file(path: Path) -> None:
    """Flush a written file to disk so a rename never publishes unwritten blocks (objects are durable once PUT)."""
    if isinstance(path, ObjectPath):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_exclusive_json(final: Path, payload: dict) -> bool:
    """Write ``payload`` to ``final`` only if ``final`` does not exist yet.

    The content is written and fsynced under a temp name and hard-linked into
    place, so the file appears complete or not at all, and exactly one of
    several racing writers wins; on an object store a conditional PUT does the
    same. Returns False when ``final`` already existed.
    """
    if isinstance(final, ObjectPath):
        return final.create_exclusive(_json_bytes(payload))
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(final)
    tmp.write_bytes(_json_bytes(payload))
    fsync_file(tmp)
    try:
        os.link(tmp, final)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        raise StoreError(
            f"{final.parent}: this file system cannot create hard links ({os.strerror(exc.errno)}), which the "
            f"store's commit log needs for exclusive create. Bucket mounts (gcsfuse, s3fs-fuse, blobfuse) do "
            f"this: pass the bucket's URL instead (--store gs://BUCKET/PATH, s3://…, az://…), or use a local "
            f"or NFS path") from None
    finally:
        tmp.unlink()


def replace_json(final: Path, payload: dict) -> None:
    """Atomically write (or overwrite) a JSON file."""
    if isinstance(final, ObjectPath):
        final.write_bytes(_json_bytes(payload))
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(final)
    tmp.write_bytes(_json_bytes(payload))
    os.replace(tmp, final)


def move_aside(src: Path, dst: Path) -> bool:
    """Rename ``src`` to ``dst`` (creating its folder); False if ``src`` is already gone (another process moved it)."""
    try:
        rename(src, dst)
        return True
    except FileNotFoundError:
        return False


def rename(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst`` (creating its folder), raising FileNotFoundError if ``src`` is gone.

    One atomic rename on a file system; on an object store a copy, then a
    delete, so that ``dst`` is complete before ``src`` disappears.
    """
    if isinstance(src, ObjectPath):
        src.move_to(dst)
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.rename(src, dst)


def _json_bytes(payload: dict) -> bytes:
    return json.dumps(payload, indent=1, sort_keys=True).encode()
