"""The two kinds of element that flow through an extraction: inputs and error rows."""
from typing import Any, NamedTuple


class Record(NamedTuple):
    """One input row: its id, the raw value to encode, and where it came from.

    ``ref`` locates the row inside its shard (a byte offset, a row number, a tar
    member's header offset) so that ``Source.fetch(shard, refs)`` can read it
    again cheaply. Extraction shuffles only ids and refs, never values, so the
    shuffle stays small whatever the values weigh. ``None`` means the source
    cannot re-read this row (a compressed tar); its value then travels instead.
    ``event_time`` is the row's own time (UTC epoch microseconds) when the
    feature set reads one from a column (``input.timestamp_column``), else None.
    """

    id: str
    value: Any
    source: str
    line: int
    ref: int | None = None
    event_time: int | None = None


class ErrorRow(NamedTuple):
    """A sample-level failure, kept as data so it can be audited and counted.

    ``id`` is the row's id when it has one, else ``"<source>:<line>"``.
    ``stage`` is where it failed (read, validate, dedup, preprocess, encode).
    ``ckey`` is the content key of the failed input when it was known, so an
    unchanged bad row is not retried by the next run.
    """

    id: str
    stage: str
    reason: str
    source: str
    line: int
    ckey: str | None = None


ERROR_COLUMNS = ("id", "stage", "reason", "source", "line")


def locator(source: str, line: int) -> str:
    """The stand-in id of a row that has none: its file and line number."""
    return f"{source}:{line}"
