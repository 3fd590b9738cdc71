"""Copy a committed part without some of its ids: how rows are replaced or removed, one part at a time.

Only the parts that hold the ids are rewritten; the copy keeps the original's
slot tags (it holds a subset of its rows) and is staged, to be published by the
commit that removes the original.
"""
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from mmfeat.store.layout import bucket_dir
from mmfeat.store.parts import read_part, write_part
from mmfeat.store.slots import TAG_KEYS


def holds_any(set_dir: Path, entry: dict, ids: set[str]) -> bool:
    """Whether a committed part holds any of ``ids`` (reads its id column only)."""
    table = read_part(set_dir, entry, ["id"], verify=False)
    return bool(pc.any(pc.is_in(table["id"], pa.array(sorted(ids), pa.string()))).as_py())


def copy_without(set_dir: Path, bucket: int, entry: dict, ids: set[str], name: str) -> tuple[dict | None, int]:
    """Stage a copy of ``entry``'s part without ``ids``; return (its log entry or None if no row is left,
    rows dropped). The original is read verified: a damaged part is never copied forward."""
    table = read_part(set_dir, entry, None, verify=True)
    hit = pc.is_in(table["id"], pa.array(sorted(ids), pa.string()))
    kept = table.filter(pc.invert(hit))
    dropped = table.num_rows - kept.num_rows
    if not kept.num_rows:
        return None, dropped
    new = write_part(kept, bucket_dir(set_dir, entry["kind"], bucket) / name, entry["kind"], set_dir)
    return {**new, **{k: entry[k] for k in TAG_KEYS if k in entry}}, dropped
