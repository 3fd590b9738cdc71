"""Freed heap pages go back to the OS between chunks (glibc Linux)."""
import sys

import pytest

from mmfeat.extract.memory import release_free_memory


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim")
def test_freed_small_allocations_are_returned_to_the_os():
    # Many small objects live in the heap (below the mmap threshold): freeing them leaves RSS where it was
    # until the allocator trims. Keep one survivor at the end so the top of the heap cannot shrink by itself.
    blocks = [bytearray(4000) for _ in range(40_000)]  # ~160 MB in small heap chunks
    for b in blocks:
        b[::512] = b"x" * len(b[::512])  # touch every page
    survivor = bytearray(4000)
    peak = _rss_kib()
    del blocks
    before = _rss_kib()
    assert release_free_memory()
    after = _rss_kib()
    assert survivor is not None
    assert before - after > 0.5 * (peak - after) > 50_000, (peak, before, after)
