"""One policy for ids and values read from any source, so every format refuses the same things.

Ids are strings (integers are turned into strings). An id is refused, as an
error row at stage ``read`` located by file and line, when it is missing or
blank, not a string or integer (floats, booleans, lists), longer than
``MAX_ID_CHARS``, contains a control character (newline, NUL, tab...), or a
lone surrogate (``"\\ud800"`` in JSON: not encodable Unicode). Slashes are
allowed: WebDataset keys and folder inputs use relative paths as ids.

A string value holding a lone surrogate becomes an error row at stage
``validate``: no encoder or hash could use it. So does a row whose timestamp
field (``input.timestamp_column``, when set) is missing or not a time (see
``mmfeat.sources.timestamps``); the reason names the field and the value.
"""
import os
import posixpath
import re

from mmfeat.records import ErrorRow, Record, locator
from mmfeat.sources.timestamps import event_time_of

MAX_ID_CHARS = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_BAD_ID_CHAR = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def id_problem(id_) -> str | None:
    """Why ``id_`` cannot identify a row, or None. ``id_`` is a str or an int."""
    if type(id_) is str and id_ and len(id_) <= MAX_ID_CHARS and not _BAD_ID_CHAR.search(id_) \
            and not id_[0].isspace() | id_[-1].isspace():
        return None  # the common case, in one regex search
    if id_ is None or (isinstance(id_, str) and not id_.strip()):
        return "id is missing or blank"
    if isinstance(id_, bool) or not isinstance(id_, (str, int)):
        return f"id must be a string or integer, got {id_!r}"[:300]
    if isinstance(id_, int):
        return None
    if len(id_) > MAX_ID_CHARS:
        return f"id has {len(id_)} characters, more than {MAX_ID_CHARS}"
    if _SURROGATE.search(id_):
        return f"id {id_.encode('utf-8', 'backslashreplace').decode()[:80]!r} holds a lone surrogate (not valid Unicode)"
    if match := _CONTROL.search(id_):
        return f"id {id_[:80]!r} holds a control character {match.group()!r} (newline, NUL, tab... are refused)"
    return None


def encodable(text: str) -> str:
    """``text`` with lone surrogates (undecodable bytes in file or member names) as ``\\udcff`` escapes,
    so it can be hashed into a bucket and written to Parquet as an error row's id or source."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if _SURROGATE.search(text) else text


def value_problem(value) -> str | None:
    """Why a value can never be encoded whatever the encoder (a lone surrogate), or None."""
    if isinstance(value, str) and _SURROGATE.search(value):
        return "value holds a lone surrogate (e.g. \\ud800 in JSON): not valid Unicode"
    return None


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


class RowChecker:
    """Turns a parsed row (a mapping) into a Record, or an ErrorRow saying what is wrong with it."""

    def __init__(self, *, column: str, id_column: str, resolve_paths: bool, timestamp_column: str | None = None):
        self.column, self.id_column, self.resolve_paths = column, id_column, resolve_paths
        self.timestamp_column = timestamp_column

    def __call__(self, row: dict, source: str, line: int, ref: int | None) -> Record | ErrorRow:
        id_ = row.get(self.id_column)
        if id_ is None:
            return ErrorRow(locator(source, line), "read", f"missing id column {self.id_column!r}", source, line)
        problem = id_problem(id_)
        if problem:
            return ErrorRow(locator(source, line), "read", problem, source, line)
        id_ = str(id_)
        if self.column not in row:
            return ErrorRow(id_, "read", f"missing field {self.column!r}", source, line)
        value = row[self.column]
        problem = value_problem(value)
        if problem:
            return ErrorRow(id_, "validate", problem, source, line)
        if self.resolve_paths and isinstance(value, str) and value.strip():
            value = resolve_reference(value.strip(), source)
        if self.timestamp_column is None:
            return Record(id_, value, source, line, ref)
        try:
            event_time = event_time_of(row.get(self.timestamp_column))
        except ValueError as exc:
            return ErrorRow(id_, "validate", f"timestamp field {self.timestamp_column!r}: {exc}", source, line)
        return Record(id_, value, source, line, ref, event_time)
