"""``PinnedStore``: a read-only view of a ``FeatureStore`` at fixed feature-set versions (time travel).

Made by ``FeatureStore.at(...)``. Every read (``read``, ``read_bucket``,
``join``, ``counts``, ``to_numpy``, the training loaders) replays each bucket's
log only up to the pinned version, so commits made after pinning are never
seen, and a part a later commit replaced is read from ``_trash``. A pin by time
is resolved per set on first use; a set a recorded snapshot does not name is
refused rather than read at some other version.
"""
from __future__ import annotations

import time

from mmfeat.errors import StoreError
from mmfeat.store import snapshots
from mmfeat.store.bucket_log import BucketLog, BucketState
from mmfeat.store.parts import PartMissingError, read_part
from mmfeat.store.snapshots import SetVersion, Snapshot, SnapshotExpiredError
from mmfeat.store.store import READ_ATTEMPTS, FeatureStore, bucket_table


class PinnedStore(FeatureStore):
    """``store`` with reads pinned: ``pins`` maps set names to ``SetVersion``; ``when`` (epoch seconds)
    pins sets it does not name as they were at that time."""

    def __init__(self, store: FeatureStore, pins: dict, *, when: float | None = None):
        self.__dict__.update(store.__dict__)  # same root and settings, without opening the store again
        self._pins, self._when = dict(pins), when
        for pin in self._pins.values():
            if len(pin.buckets) != self.n_buckets:
                raise StoreError(f"{pin.name}: the pinned version has {len(pin.buckets)} buckets, the store "
                                 f"{self.n_buckets}: it was recorded on another store")

    def __repr__(self):
        pins = [f"at={snapshots.iso_time(self._when)!r}"] if self._when is not None else []
        pins += [repr(str(v)) for v in self._pins.values()]
        return f"PinnedStore({', '.join([repr(str(self.root)), *pins])})"

    def version(self, name: str) -> SetVersion:
        """The pinned version of set ``name``."""
        if name not in self._pins:
            if self._when is None:
                raise StoreError(f"feature set {name!r} is not part of this snapshot (it pins "
                                 f"{', '.join(sorted(self._pins)) or 'nothing'})")
            self.info(name)
            self._pins[name] = snapshots.at_time(self, name, self._when)
        return self._pins[name]

    def bucket_state(self, name: str, bucket: int) -> BucketState:
        """The bucket's live files at the pinned version."""
        return self._log(name, bucket).state(upto=self.version(name).buckets[bucket])

    def read_bucket(self, name: str, bucket: int, *, kind: str = "data", columns=None, verify=True):
        """The bucket's rows at the pinned version, from wherever its parts are now."""
        with self.one_pass():  # the set's metadata is read once, for the check and for the log
            self.check_layout(name)
            state = self.bucket_state(name, bucket)
        tables = [self._read_part(name, bucket, entry, columns, verify) for entry in state.files(kind)]
        return bucket_table(tables, kind, columns)

    def _read_part(self, name, bucket, entry, columns, verify):
        set_dir = self.set_dir(name)
        for attempt in range(READ_ATTEMPTS):  # a concurrent commit may be moving it to _trash
            time.sleep(0.05 * attempt)
            try:
                return read_part(set_dir, entry, columns, verify)
            except PartMissingError as exc:
                missing = exc
        if entry["path"] in BucketLog(set_dir, bucket).state().live:
            raise missing  # the current version lacks it too: damage, not time travel
        raise SnapshotExpiredError(snapshots.expired_message(self, self.version(name), entry["path"]))

    def _read_only(self, *_, **__):
        raise StoreError(f"{self!r} is a read-only snapshot; open FeatureStore({str(self.root)!r}) to change it")

    repair = compact = vacuum = _read_only


def pin(store: FeatureStore, when) -> PinnedStore:
    """``store`` pinned at ``when``, which is one of:

    - a ``Snapshot`` (or its ``to_dict()``, as ``mmfeat train`` records it) or a ``SetVersion``: exactly
      those versions; sets it does not name are refused;
    - ``{name: version}``: per set a ``SetVersion``, its buckets' versions, a commit count or a time;
    - an int: the whole store after its first N commits (``snapshot().version`` at that moment);
    - a time (epoch seconds, ``datetime`` or ISO-8601 string): every set as it was then.
    """
    if isinstance(when, bool):
        raise StoreError(f"{when!r} is not a version, snapshot or time")
    if isinstance(when, int):
        return PinnedStore(store, snapshots.at_count(store, store.list(), when))
    if isinstance(when, SetVersion):
        return PinnedStore(store, {when.name: when})
    if isinstance(when, Snapshot):
        return PinnedStore(store, when.sets)
    if isinstance(when, dict):
        if "sets" in when:  # a recorded Snapshot.to_dict()
            return PinnedStore(store, Snapshot.from_dict(when).sets)
        return PinnedStore(store, {name: _set_pin(store, name, v) for name, v in when.items()})
    return PinnedStore(store, {}, when=snapshots.parse_time(when))


def _set_pin(store, name: str, value) -> SetVersion:
    if isinstance(value, SetVersion):
        return value
    if isinstance(value, dict):
        return SetVersion.from_dict(name, value)
    if isinstance(value, (list, tuple)):
        return SetVersion(name, tuple(int(v) for v in value))
    if isinstance(value, int) and not isinstance(value, bool):
        return snapshots.at_count(store, [name], value)[name]
    return snapshots.at_time(store, name, value)
