"""CSV and JSONL rows from byte frames: one decoding policy, exact lines, one item per record.

Every record is decoded on its own, strictly (``input.encoding``, UTF-8 by
default; a UTF-8 BOM at the start of the file is accepted), so a bad byte costs
one error row at its line and the rest of the file is still read. A record
never becomes more than one Record; a record whose quoting is broken (an
unterminated or stray quote that swallowed following lines) becomes an error
row for its first line, and each line it swallowed is read again on its own.
"""
import csv
import io
import json

from mmfeat.records import ErrorRow, locator
from mmfeat.sources.framing import MAX_RECORD_BYTES, Frame, frames
from mmfeat.sources.shards import pack, unpack

BOM = b"\xef\xbb\xbf"
MAX_FIELD_CHARS = 131072  # the csv module's default field limit, checked per field by us


def decode(frame: Frame, encoding: str) -> str:
    """The record's text; a UTF-8 BOM at the start of the file is dropped. Raises UnicodeDecodeError."""
    data = frame.data
    if frame.offset == 0 and encoding.replace("-", "").lower() in ("utf8", "utf8sig") and data.startswith(BOM):
        data = data[len(BOM):]
    return data.decode(encoding)


class LineFormat:
    """Reads one shard of a line-based manifest; subclasses implement ``parse``."""

    quoted = False

    def __init__(self, checker, encoding: str = "utf-8"):
        self.checker, self.encoding = checker, encoding

    def header(self, f, path: str):
        """Whatever ``parse`` needs from the start of the file (CSV: the column names)."""
        return None

    def read(self, f, shard, header=None):
        """Every item of ``shard``: Records with refs, ErrorRows for bad records. ``header``: see ``header``."""
        for frame in frames(f, start=shard.start, end=shard.end, first_line=shard.first_line, quoted=self.quoted):
            if frame.offset == 0 and self.quoted:
                continue  # the CSV header
            yield from self.items(frame, shard, header)

    def fetch(self, f, shard, refs, header=None):
        """Exactly one item per ref, re-read with one seek each (forward only: refs ascend)."""
        for ref in refs:
            offset, line = unpack(ref)
            frame = next(frames(f, start=shard.start + offset, end=None, first_line=shard.first_line + line,
                                quoted=self.quoted), None)
            items = self.items(frame, shard, header) if frame else []
            if len(items) == 1:
                yield items[0]
            else:
                where = shard.first_line + line
                yield ErrorRow(locator(shard.path, where), "read", "the row changed since it was listed; rerun",
                               shard.path, where)

    def items(self, frame: Frame, shard, header) -> list:
        """The items of one record: [] for a blank line, else one (or more after a broken quote)."""
        path = shard.path
        if frame.data is None:
            return [self.error(frame, path, f"record is larger than {MAX_RECORD_BYTES} bytes"
                                            f"{self.span(frame)}; an unterminated quote?")]
        try:
            text = decode(frame, self.encoding)
        except UnicodeDecodeError as exc:
            return [self.error(frame, path, f"not valid {self.encoding} (byte {exc.start} of the record: "
                                            f"{exc.reason}){self.span(frame)}")]
        if not text.strip():
            return []
        return self.parse(frame, text, path, header, pack(frame.offset - shard.start, frame.line - shard.first_line))

    def parse(self, frame: Frame, text: str, path: str, header, ref) -> list:
        """The items of one decoded, non-blank record."""
        raise NotImplementedError

    @staticmethod
    def span(frame: Frame) -> str:
        return f" (lines {frame.line}-{frame.line + frame.n_lines - 1})" if frame.n_lines > 1 else ""

    @staticmethod
    def error(frame: Frame, path: str, reason: str) -> ErrorRow:
        return ErrorRow(locator(path, frame.line), "read", reason, path, frame.line)


class JsonlFormat(LineFormat):
    """One JSON object per line."""

    def parse(self, frame, text, path, header, ref):
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            return [self.error(frame, path, f"bad JSON: {exc.msg} at column {exc.colno}")]
        except RecursionError:
            return [self.error(frame, path, "bad JSON: nested too deeply")]
        if not isinstance(row, dict):
            return [self.error(frame, path, f"expected a JSON object, got {type(row).__name__}")]
        return [self.checker(row, path, frame.line, ref)]


class CsvFormat(LineFormat):
    """A header row, then one row per record (quoted fields may hold newlines)."""

    quoted = True

    def __init__(self, checker, encoding: str = "utf-8"):
        super().__init__(checker, encoding)
        # The csv module's own limit raises mid-parse, which cannot tell an over-long field from an
        # unterminated quote that swallowed the file; parse with a limit above any record we keep,
        # and check field lengths in ``row``.
        if csv.field_size_limit() < MAX_RECORD_BYTES:
            csv.field_size_limit(MAX_RECORD_BYTES)

    def header(self, f, path):
        from mmfeat.errors import MmfeatError

        first = next(frames(f, start=0, end=None, first_line=1, quoted=True), None)
        if first is None:
            return None
        try:
            return next(csv.reader(io.StringIO(decode(first, self.encoding), newline=""), strict=True), [])
        except (UnicodeDecodeError, csv.Error, TypeError) as exc:
            raise MmfeatError(f"{path}: cannot read the CSV header ({exc}); fix the first line, "
                              f"or set input.encoding") from None

    def parse(self, frame, text, path, header, ref):
        try:  # one string: a newline outside quotes is a csv.Error, so a record is never split in two
            rows = list(csv.reader([text], strict=True))
        except csv.Error as exc:
            if "new-line character" in str(exc):
                return [self.error(frame, path, "a bare carriage return (\\r) outside quotes; line ends must be "
                                                "\\n or \\r\\n")]
            if frame.n_lines == 1:
                return [self.error(frame, path, f"bad CSV quoting: {exc}")]
            return self.recover(frame, path, header, str(exc))
        if len(rows) != 1:
            if frame.n_lines > 1:
                return self.recover(frame, path, header, f"record holds {len(rows)} rows")
            return [self.error(frame, path, f"record holds {len(rows)} rows (a bare carriage return?)")]
        return [self.row(frame.line, rows[0], path, header, ref, len(text))]

    def row(self, line, fields, path, header, ref, n_chars=None):
        if len(fields) != len(header):
            reason = f"expected {len(header)} fields, got {len(fields)}"
            return ErrorRow(locator(path, line), "read", reason, path, line)
        longest = max(map(len, fields), default=0) if n_chars is None or n_chars > MAX_FIELD_CHARS else 0
        if longest > MAX_FIELD_CHARS:
            reason = f"a field has {longest} characters, more than the CSV field limit {MAX_FIELD_CHARS}"
            return ErrorRow(locator(path, line), "read", reason, path, line)
        return self.checker(dict(zip(header, fields)), path, line, ref)

    def recover(self, frame, path, header, detail):
        """A multi-line record whose quoting is broken: its first line is the error, the others are
        read one by one (refs None: they are not records by the framing rule, so not re-read by ref)."""
        lines = frame.data.decode(self.encoding, "replace").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        items = [self.error(frame, path, f"unterminated or stray quote ({detail}): it swallowed lines "
                                         f"{frame.line}-{frame.line + frame.n_lines - 1}; this line is skipped "
                                         f"and the following ones are read on their own")]
        raw = frame.data.split(b"\n")
        for i, line_text in enumerate(lines[1:], start=1):
            line = frame.line + i
            try:
                raw[i].decode(self.encoding)
                rows = list(csv.reader([line_text.rstrip("\r")], strict=True))
            except (UnicodeDecodeError, csv.Error) as exc:
                items.append(ErrorRow(locator(path, line), "read", f"unreadable line after a broken quote: {exc}",
                                      path, line))
                continue
            if rows and any(rows[0]):
                items.append(self.row(line, rows[0], path, header, None))
        return items
