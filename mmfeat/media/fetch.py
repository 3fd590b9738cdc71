"""Fetch an input's bytes: inline bytes (WebDataset members), a local path, or an fsspec URI.

Every failure is an ``InputError`` at stage ``read`` (an error row), never a
job crash or a hang:

- a local path must be a regular file: directories, FIFOs, sockets and devices
  are refused from ``stat`` before any open (and ``fstat`` after a non-blocking
  open), so a FIFO cannot block and a device is never opened;
  symlinks are followed, a symlink loop is an error;
- a URI whose filesystem needs a package that is not installed (``http://``
  needs ``aiohttp`` and ``requests``: ``pip install 'fsspec[http]'``) names
  the packages to install;
- any failure of a remote filesystem is reported with its type and message;
- at most ``max_bytes + 1`` bytes are read.
"""
import os
import stat

import fsspec

from mmfeat.errors import InputError

_LOCAL = ("file://", "local://")


def describe(value) -> str:
    """A short name for an input in messages: its path, or its size for inline bytes."""
    return f"<{len(value)} bytes>" if isinstance(value, (bytes, bytearray)) else str(value)


def _check_regular(mode: int, path: str) -> None:
    if stat.S_ISDIR(mode):
        raise InputError(f"is a directory, not a file: {path}", "read")
    if not stat.S_ISREG(mode):
        raise InputError(f"not a regular file (a FIFO, socket or device): {path}", "read")


def _read_local(path: str, max_bytes: int) -> bytes:
    """Read a local regular file: ``stat`` first, so devices are never opened; the open is
    non-blocking and ``fstat`` checks again what was opened (the path may have changed)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        _check_regular(os.stat(path).st_mode, path)
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InputError(f"file not found: {path}", "read") from None
    except OSError as exc:
        raise InputError(f"cannot open {path}: {exc.strerror or exc}", "read") from None
    try:
        _check_regular(os.fstat(fd).st_mode, path)
    except InputError:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as f:
        try:
            return f.read(max_bytes + 1)
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}", "read") from None


def _read_remote(uri: str, max_bytes: int) -> bytes:
    try:
        with fsspec.open(uri, "rb") as f:
            return f.read(max_bytes + 1)
    except ImportError as exc:
        raise InputError(f"cannot read {uri}: its filesystem needs a package that is not installed ({exc}); "
                         f"pip install {repr('fsspec[http]') if uri.startswith('http') else 'the fsspec backend'}",
                         "read") from None
    except FileNotFoundError:
        raise InputError(f"file not found: {uri}", "read") from None
    except Exception as exc:  # noqa: BLE001 - remote backends raise their own types; each is an error row
        raise InputError(f"cannot read {uri}: {type(exc).__name__}: {exc}", "read") from None


def read_bytes(value, max_bytes: int) -> bytes:
    """The bytes of ``value``; ``InputError`` (stage ``read``) if missing, unreadable, empty or too big."""
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif "://" not in value or value.startswith(_LOCAL):
        path = value.split("://", 1)[1] if "://" in value else value
        data = _read_local(os.path.expanduser(path), max_bytes)
    else:
        data = _read_remote(value, max_bytes)
    if not data:
        raise InputError(f"empty file (0 bytes): {describe(value)}", "read")
    if len(data) > max_bytes:
        raise InputError(f"file is larger than max_bytes={max_bytes}: {describe(value)}", "read")
    return data
