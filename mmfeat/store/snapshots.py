"""Versions of feature sets and of the store: what a reader pins, and where time travel ends.

Every commit advances one bucket's log by one version, so the exact version of
a feature set is the vector of its buckets' log versions (``SetVersion``); its
compact form is their sum, the number of commits the set has had, with the
time of the newest one. A ``Snapshot`` holds the versions of several sets; its
``version`` is their sum. Versions are pinned by that vector (exact), by a
commit count (the first N commits in time order) or by a time (every bucket as
its log stood then; each record carries its commit ``time``, older records the
file's mtime).

Reading an old version reads the parts it named from wherever they are now:
published, or in ``_trash`` where a later commit moved them. Once ``vacuum`` has
deleted them, time travel to that version has ended (``SnapshotExpiredError``
names the oldest version still readable).
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from mmfeat.errors import StoreError
from mmfeat.store.bucket_log import BucketLog
from mmfeat.store.lifecycle import locate
from mmfeat.store.log_records import LogDamageError, load_record, record_hash, record_problem


class SnapshotExpiredError(StoreError):
    """A pinned version names parts that ``vacuum`` has deleted: time travel ended before it."""


def iso_time(t: float | None) -> str | None:
    """Epoch seconds as ISO-8601 UTC with microseconds (``…Z``), None for None."""
    if t is None:
        return None
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="microseconds") \
        .replace("+00:00", "Z")


def microseconds(t: float) -> float:
    """``t`` rounded to the microsecond: times are compared at the resolution they are written with."""
    return round(float(t), 6)


def parse_time(when) -> float:
    """Epoch seconds from a number, a ``datetime`` (naive means UTC) or an ISO-8601 string."""
    if isinstance(when, (int, float)):
        return microseconds(when)
    if isinstance(when, str):
        try:
            when = datetime.datetime.fromisoformat(when.strip().replace("Z", "+00:00"))
        except ValueError:
            raise StoreError(f"{when!r} is not a time: use ISO 8601, e.g. 2026-11-29T05:00:00Z") from None
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return microseconds(when.timestamp())
    raise StoreError(f"{when!r} is not a time (a number of epoch seconds, a datetime or an ISO string)")


@dataclass(frozen=True)
class SetVersion:
    """One feature set's version: its buckets' log versions (exact), their sum and the newest commit time."""

    name: str
    buckets: tuple[int, ...]
    time: float | None = None

    @property
    def version(self) -> int:
        """The number of commits the set had at this version."""
        return sum(self.buckets)

    def __str__(self):
        return f"{self.name}@{self.version}" + (f" ({iso_time(self.time)})" if self.time else "")

    def to_dict(self) -> dict:
        return {"version": self.version, "time": iso_time(self.time), "buckets": list(self.buckets)}

    @classmethod
    def from_dict(cls, name: str, raw: dict) -> "SetVersion":
        """Read back ``to_dict``; refuse a record whose buckets do not add up to its version."""
        try:
            buckets = tuple(int(v) for v in raw["buckets"])
        except (KeyError, TypeError, ValueError):
            raise StoreError(f"{name}: {raw!r} is not a recorded set version (no 'buckets' list)") from None
        if "version" in raw and raw["version"] != sum(buckets):
            raise StoreError(f"{name}: recorded version {raw['version']} is not the sum of its buckets")
        return cls(name, buckets, parse_time(raw["time"]) if raw.get("time") else None)


@dataclass(frozen=True)
class Snapshot:
    """Versions of some feature sets, as read together (recorded by ``mmfeat train``)."""

    sets: dict  # name -> SetVersion

    @property
    def version(self) -> int:
        return sum(v.version for v in self.sets.values())

    @property
    def time(self) -> float | None:
        return max((v.time for v in self.sets.values() if v.time), default=None)

    def to_dict(self) -> dict:
        return {"version": self.version, "time": iso_time(self.time),
                "sets": {name: v.to_dict() for name, v in self.sets.items()}}

    @classmethod
    def from_dict(cls, raw: dict) -> "Snapshot":
        return cls({name: SetVersion.from_dict(name, v) for name, v in raw["sets"].items()})

    def changed(self, other: "Snapshot") -> list[tuple[SetVersion, SetVersion]]:
        """``(mine, theirs)`` for each set both name whose versions differ."""
        return [(v, other.sets[n]) for n, v in self.sets.items() if n in other.sets and
                other.sets[n].buckets != v.buckets]


def commit_times(log: BucketLog) -> list[float]:
    """Commit time of versions 1..latest of one bucket, made non-decreasing (a later version never sorts
    before an earlier one, whatever the writers' clocks); a missing or damaged record takes its
    predecessor's time."""
    present = log.versions()
    out, last = [], 0.0
    for version in range(1, (present[-1] if present else 0) + 1):
        path = log.path(version)
        try:
            record = load_record(path) if version in present else {}
            t = record.get("time") if isinstance(record, dict) else None
            t = float(t) if isinstance(t, (int, float)) else (path.stat().st_mtime if version in present else last)
        except (LogDamageError, FileNotFoundError):
            t = last
        last = max(last, microseconds(t))
        out.append(last)
    return out


def head_time(log: BucketLog, version: int) -> float | None:
    """Commit time of one version (its record's ``time``, else the file's mtime); None for version 0."""
    if not version:
        return None
    record = load_record(log.path(version))
    t = record.get("time") if isinstance(record, dict) else None
    return microseconds(t if isinstance(t, (int, float)) else log.path(version).stat().st_mtime)


def current(store, name: str) -> SetVersion:
    """The set's version now (one log replay per bucket, one record read per bucket for the time)."""
    buckets = tuple(s.version for s in store.states(name))
    times = [head_time(BucketLog(store.set_dir(name), b), v) for b, v in enumerate(buckets)]
    return SetVersion(name, buckets, max((t for t in times if t), default=None))


def history(store, names) -> list[tuple[float, str, int, int]]:
    """``(time, set, bucket, version)`` of every commit of ``names``, in commit order."""
    out = []
    for name in names:
        store.check_layout(name)
        for bucket in range(store.n_buckets):
            times = commit_times(BucketLog(store.set_dir(name), bucket))
            out += [(t, name, bucket, v) for v, t in enumerate(times, 1)]
    return sorted(out)


def at_time(store, name: str, when) -> SetVersion:
    """The set as it was at ``when``: each bucket at its last commit made by then."""
    t = parse_time(when)
    buckets, newest = [], None
    for bucket in range(store.n_buckets):
        times = commit_times(BucketLog(store.set_dir(name), bucket))
        version = sum(1 for c in times if c <= t)
        buckets.append(version)
        if version:
            newest = max(newest or 0.0, times[version - 1])
    return SetVersion(name, tuple(buckets), newest)


def at_count(store, names, count: int) -> dict:
    """``{name: SetVersion}`` after the first ``count`` commits of ``names`` together, in commit order."""
    commits = history(store, names)
    if not 0 <= count <= len(commits):
        raise StoreError(f"{', '.join(names)}: version {count} does not exist (the latest is {len(commits)})")
    buckets = {n: [0] * store.n_buckets for n in names}
    newest = dict.fromkeys(names)
    for t, name, bucket, version in commits[:count]:
        buckets[name][bucket], newest[name] = version, t
    return {n: SetVersion(n, tuple(buckets[n]), newest[n]) for n in names}


def oldest_readable(store, name: str) -> SetVersion | None:
    """The oldest version of the set whose parts all still exist, or None if every version still reads.

    A part added at version a and removed at version r is needed by versions a..r-1
    of its bucket; once vacuum deleted it, the bucket reads from r on. A damaged
    record before a repair checkpoint makes the versions before the checkpoint
    unreadable too.
    """
    set_dir = store.set_dir(name)
    floors = [_readable_from(BucketLog(set_dir, bucket)) for bucket in range(store.n_buckets)]
    if not any(floors):
        return None
    t = max(commit_times(BucketLog(set_dir, b))[v - 1] for b, v in enumerate(floors) if v)
    return at_time(store, name, t)


def _readable_from(log: BucketLog) -> int:
    """The oldest version of one bucket from which on every version replays and has all its parts."""
    floor, damaged, head = 0, False, None
    removed_at, live = {}, set()
    present = log.versions()
    for version in range(1, (present[-1] if present else 0) + 1):
        try:
            record = load_record(log.path(version)) if version in present else None
        except LogDamageError:
            record = None
        if record is None or record_problem(record, version, log.bucket, hashed=log.hashed):
            damaged = True
            continue
        if record.get("checkpoint"):
            floor = version if damaged else floor
            removed_at.update({p: version for p in live - {e["path"] for e in record["add"]}})
            live, damaged = set(), False
        elif ("prev" in record or log.hashed) and record.get("prev") != head:
            damaged = True
        head = record.get("hash") or record_hash(record)
        for path in record["remove"]:
            removed_at[path] = version
            live.discard(path)
        live.update(e["path"] for e in record["add"])
    gone = [r for path, r in removed_at.items()
            if path not in live and locate(log.set_dir, path, roll_forward=False) is None]
    return max([floor, *gone])


def expired_message(store, pinned: SetVersion, path: str) -> str:
    """Why ``pinned`` cannot be read any more, and what can be."""
    oldest = oldest_readable(store, pinned.name)
    still = (f"the oldest readable version is {oldest.version} ({iso_time(oldest.time)})" if oldest
             else "every version reads again (the file reappeared); retry")
    return (f"{store.set_dir(pinned.name) / path}: feature set {pinned.name!r} at version {pinned.version} "
            f"({iso_time(pinned.time)}) can no longer be read: `mmfeat vacuum` deleted this part, so time "
            f"travel ended before then; {still}. Read a later version or the current data")
