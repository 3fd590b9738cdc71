"""Fetch an input's bytes: inline bytes (WebDataset members) or a local path or fsspec URI."""
import fsspec

from mmfeat.errors import InputError


def describe(value) -> str:
    """A short name for an input in messages: its path, or its size for inline bytes."""
    return f"<{len(value)} bytes>" if isinstance(value, (bytes, bytearray)) else str(value)


def read_bytes(value, max_bytes: int) -> bytes:
    """The bytes of ``value``; ``InputError`` (stage ``read``) if missing, unreadable, empty or too big."""
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    else:
        try:
            with fsspec.open(value, "rb") as f:
                data = f.read(max_bytes + 1)
        except FileNotFoundError:
            raise InputError(f"file not found: {value}", "read") from None
        except IsADirectoryError:
            raise InputError(f"is a directory, not a file: {value}", "read") from None
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {value}: {exc}", "read") from None
    if not data:
        raise InputError(f"empty file (0 bytes): {describe(value)}", "read")
    if len(data) > max_bytes:
        raise InputError(f"file is larger than max_bytes={max_bytes}: {describe(value)}", "read")
    return data
