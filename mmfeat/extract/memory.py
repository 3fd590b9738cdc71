"""Give freed heap memory back to the operating system between chunks.

A worker encodes chunk after chunk: tokenizer output, tensors and Arrow buffers
of varying sizes are allocated and freed, and glibc's allocator keeps the freed
pages, fragmented across its arenas, so a long-running worker's RSS creeps up
with the work it has done rather than with what it holds. ``malloc_trim(0)``
returns them (Dask's workers do the same for the same reason). Elsewhere than
glibc Linux this is a no-op.
"""
import ctypes
import ctypes.util
import sys

_trim = None
if sys.platform.startswith("linux"):
    try:
        _trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        _trim.argtypes, _trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError):  # musl and other libcs have no malloc_trim
        _trim = None


def release_free_memory() -> bool:
    """Return the allocator's free pages to the OS; True if the allocator supports it."""
    if _trim is None:
        return False
    _trim(0)
    return True
