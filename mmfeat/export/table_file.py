"""Write a feature set (or its errors) to one Parquet or CSV file, safely.

The file is written under a temporary name in the target directory and renamed
into place, so a reader never sees half a file and a symlink at the target is
replaced, not followed. CSV cells that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) are prefixed
with ``'``, as OWASP recommends for CSV exports; Parquet keeps values as they are.
"""
import json
import os
import tempfile
from pathlib import Path

from mmfeat.errors import MmfeatError

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell):
    """A CSV cell that a spreadsheet shows as text, never evaluates."""
    return "'" + cell if isinstance(cell, str) and cell.startswith(FORMULA_START) else cell


def write_table_file(table, out: str) -> None:
    """Write ``table`` to ``out`` (``.parquet`` or ``.csv``) atomically."""
    target = Path(out)
    if not out.endswith((".parquet", ".csv")):
        raise MmfeatError(f"--out {out}: use a .parquet or .csv file name")
    if target.is_dir():
        raise MmfeatError(f"--out {out}: is a directory")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent if str(target.parent) else ".")
    os.close(fd)
    try:
        if out.endswith(".parquet"):
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)
        else:
            frame = table.to_pandas()
            if "embedding" in frame:
                frame["embedding"] = frame["embedding"].map(lambda v: json.dumps([float(x) for x in v]))
            for column in frame.columns:
                if frame[column].map(lambda v: isinstance(v, str)).any():
                    frame[column] = frame[column].map(neutralise)
            frame.to_csv(tmp, index=False)
        os.replace(tmp, target)  # replaces a symlink itself; never writes through it
    finally:
        Path(tmp).unlink(missing_ok=True)
