"""Atomic file primitives: write to a hidden temp name, then publish.

Hidden names (leading ``.``, and a suffix that is not ``.parquet`` or ``.json``,
because duckdb's ``*.parquet`` glob matches dot files) are skipped by
pyarrow.dataset, pandas and duckdb globs, so a crash mid-write leaves nothing a
reader of the directory sees.
"""
import json
import os
import uuid
from pathlib import Path

TMP_PREFIX = ".tmp-"


def temp_path(final: Path) -> Path:
    """A unique hidden sibling of ``final`` to write into before publishing."""
    return final.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}-{final.name}.tmp")


def fsync_file(path: Path) -> None:
    """Flush a written file to disk so a rename never publishes unwritten blocks."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_exclusive_json(final: Path, payload: dict) -> bool:
    """Write ``payload`` to ``final`` only if ``final`` does not exist yet.

    The content is written and fsynced under a temp name and hard-linked into
    place, so the file appears complete or not at all, and exactly one of
    several racing writers wins. Returns False when ``final`` already existed.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(final)
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True))
    fsync_file(tmp)
    try:
        os.link(tmp, final)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink()


def replace_json(final: Path, payload: dict) -> None:
    """Atomically write (or overwrite) a JSON file."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(final)
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True))
    os.replace(tmp, final)


def move_aside(src: Path, dst: Path) -> bool:
    """Rename ``src`` to ``dst`` (creating its folder); False if ``src`` is already gone (another process moved it)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(src, dst)
        return True
    except FileNotFoundError:
        return False
