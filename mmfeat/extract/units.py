"""Work units: a bucket is split into ``n_slots`` slots, and one (bucket, slot) is one unit.

Every id belongs to exactly one unit, computed from one 64-bit blake2b digest of
the id: the bucket is ``digest % n_buckets`` (the store's layout, shared by every
feature set so they join bucket by bucket) and the slot is the next digits,
``digest // n_buckets % n_slots``. So all copies of an id meet in one unit, and
the number of units that can encode at once is ``n_buckets * n_slots``, not the
bucket count.

What crosses the shuffle is small: for each (shard, unit) a packed array of
16 bytes per row (the id's digest and the row's ref in the shard). A unit reads
its rows back from the source (``Source.fetch``) a chunk at a time, so neither
the shuffle nor a worker ever holds a bucket's values.
"""
from array import array
from dataclasses import dataclass

import numpy as np

from mmfeat.buckets import id_digest

DEFAULT_SLOTS = 4

__all__ = ["DEFAULT_SLOTS", "RefCollector", "ShardRefs", "id_digest", "unit_name", "unit_of"]


def unit_of(digest: int, n_buckets: int, n_slots: int) -> tuple[int, int]:
    """The (bucket, slot) of an id digest."""
    return digest % n_buckets, digest // n_buckets % n_slots


def unit_name(bucket: int, slot: int) -> str:
    """A unit's name in file names and logs: ``BBBBB-SSSS``."""
    return f"{bucket:05d}-{slot:04d}"


@dataclass
class ShardRefs:
    """The rows one shard contributes to one unit: id digests and refs, packed for the shuffle."""

    shard: object
    digests: np.ndarray  # uint64
    refs: np.ndarray  # int64, ascending within the shard

    def to_wire(self) -> tuple:
        return (self.shard, self.digests.astype("<u8").tobytes(), self.refs.astype("<i8").tobytes())

    @classmethod
    def from_wire(cls, wire: tuple) -> "ShardRefs":
        shard, digests, refs = wire
        return cls(shard, np.frombuffer(digests, "<u8"), np.frombuffer(refs, "<i8"))


class RefCollector:
    """Accumulates (digest, ref) per unit while a shard is read; ``drain`` packs them per unit."""

    def __init__(self, shard):
        self.shard = shard
        self._by_unit: dict[tuple[int, int], tuple[array, array]] = {}  # 16 bytes a row

    def add(self, unit: tuple[int, int], digest: int, ref: int) -> None:
        digests, refs = self._by_unit.setdefault(unit, (array("Q"), array("q")))
        digests.append(digest)
        refs.append(ref)

    def drain(self):
        """Yield ``(unit, ShardRefs)`` for every unit this shard touched, refs ascending."""
        for unit, (digests, refs) in sorted(self._by_unit.items()):
            d, r = np.frombuffer(digests, np.uint64), np.frombuffer(refs, np.int64)
            order = np.argsort(r, kind="stable")
            yield unit, ShardRefs(self.shard, d[order], r[order])
        self._by_unit.clear()
