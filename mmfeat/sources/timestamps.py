"""Per-row event times from a manifest column (``input.timestamp_column``), as UTC epoch microseconds.

A row's event time becomes its ``event_timestamp`` in the store (what Feast's
point-in-time joins read). Accepted values:

- ISO-8601 strings: ``2024-05-01T12:00:00Z``, ``2024-05-01 12:00:00+02:00``,
  ``2024-05-01``; a time without an offset is UTC;
- epoch seconds: JSON or Parquet ints and floats, and strings that are plain
  numbers (``1714564800``, ``1714564800.25``; a string of digits is always epoch
  seconds, never a compact date such as ``20240501``);
- Parquet ``timestamp`` columns (with a time zone, or without one: then UTC) and
  ``date`` columns (midnight UTC).

Times are kept to the microsecond (finer digits are dropped) and must fall in
years 1-9999. Anything else (blank, missing, a boolean, ``yesterday``, NaN) is a
``ValueError`` whose message names the value; the caller turns it into the
row's error row.

When event times are configured, a row's content key carries its event time
(``with_event_time``): a row whose timestamp changed is stored again with the
new one, while its vector is copied, not encoded again (``content_part``).
"""
import datetime
import math
import re
from decimal import Decimal, DecimalException

UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
_US = datetime.timedelta(microseconds=1)
MIN_US = (datetime.datetime(1, 1, 1, tzinfo=UTC) - EPOCH) // _US
MAX_US = (datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - EPOCH) // _US
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_TIMED_KEY = re.compile(r"^(.*)@(-?\d+)$", re.S)
EXAMPLE = "ISO-8601 such as 2024-05-01T12:00:00Z, or epoch seconds"


def event_time_of(value) -> int:
    """``value`` as UTC microseconds since the epoch; ``ValueError`` saying why it is not a time."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"missing or empty (got {value!r})")
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is a boolean, not a time ({EXAMPLE})")
    if isinstance(value, int):
        return _in_range(value * 1_000_000, value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a time ({EXAMPLE})")
        return _in_range(round(value * 1_000_000), value)
    if isinstance(value, datetime.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return _in_range((aware - EPOCH) // _US, value)
    if isinstance(value, datetime.date):
        return _in_range((datetime.datetime(value.year, value.month, value.day, tzinfo=UTC) - EPOCH) // _US, value)
    if isinstance(value, str):
        return _from_text(value.strip(), value)
    raise ValueError(f"{_shown(value)} ({type(value).__name__}) is not a time ({EXAMPLE})")


def _from_text(text: str, value) -> int:
    if _NUMBER.match(text):
        try:
            return _in_range(int((Decimal(text) * 1_000_000).to_integral_value()), value)
        except (DecimalException, OverflowError):
            raise ValueError(f"{_shown(value)} is out of range (years 1-9999)") from None
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{_shown(value)} is not a time ({EXAMPLE})") from None
    return event_time_of(parsed)


def _in_range(micros: int, value) -> int:
    if not MIN_US <= micros <= MAX_US:
        raise ValueError(f"{_shown(value)} is out of range (years 1-9999)")
    return micros


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def with_event_time(ckey: str, event_time: int | None) -> str:
    """The content key of a row: its content's key, plus ``@`` and its event time when it has one, so a
    changed timestamp counts as a change (the row is stored again with the new time)."""
    return ckey if event_time is None else f"{ckey}@{event_time}"


def content_part(ckey: str) -> str:
    """The content's own key inside a row's content key (``with_event_time`` undone): rows with equal
    content share a vector whatever their event times."""
    match = _TIMED_KEY.match(ckey) if "@" in ckey else None
    return match.group(1) if match else ckey
