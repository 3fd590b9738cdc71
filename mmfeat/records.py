"""The two kinds of element that flow through an extraction: inputs and error rows."""
from typing import Any, NamedTuple


class Record(NamedTuple):
    """One input row: its id, the raw value to encode, and where it came from."""

    id: str
    value: Any
    source: str
    line: int


class ErrorRow(NamedTuple):
    """A sample-level failure, kept as data so it can be audited and counted.

    ``id`` is the row's id when it has one, else ``"<source>:<line>"``.
    ``stage`` is where it failed (read, validate, dedup, preprocess, encode).
    """

    id: str
    stage: str
    reason: str
    source: str
    line: int


ERROR_COLUMNS = ("id", "stage", "reason", "source", "line")


def locator(source: str, line: int) -> str:
    """The stand-in id of a row that has none: its file and line number."""
    return f"{source}:{line}"
