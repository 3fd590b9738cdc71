"""Per-bucket commit log: the single source of truth for which files are live.

Each commit is ``_log/bucket=NNNNN/VVVVVVVV.json`` holding the files it adds
(with row count and checksum), the files it removes, and a hash chain (see
``mmfeat.store.log_records``). Version ``v`` is created exclusively, so two
writers that both read version ``v-1`` cannot both commit: the loser gets
``CommitConflictError`` and nothing it wrote becomes visible.

A commit publishes its parts after the record exists (they were written under
hidden staged names) and moves the parts it removes to ``_trash``, never
deleting them; see ``mmfeat.store.lifecycle``. A ``BucketLog`` keeps the state
it replayed, so a writer that re-reads ``state()`` after a conflict only reads
the versions added since.
"""
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from mmfeat.errors import CommitConflictError, StoreError
from mmfeat.store.files import create_exclusive_json
from mmfeat.store.lifecycle import publish, trash
from mmfeat.store.objects import as_path
from mmfeat.store.log_records import RESERVED, LogDamageError, load_record, record_hash, record_problem

_VERSION_FILE = re.compile(r"(\d{8})\.json")
_BUCKET_LOG_DIR = re.compile(r"bucket=(\d{5})")


@dataclass
class BucketState:
    """The live files of one bucket after replaying its log up to ``version``.

    ``head`` is the hash of the last replayed record: the next commit's ``prev``.
    ``removed`` holds the paths replayed commits removed, so that a part whose
    commit recorded its removal but died before moving it aside is recognised
    (and moved) rather than taken for a stray.
    """

    bucket: int
    version: int = 0
    live: dict[str, dict] = field(default_factory=dict)  # relative path -> add entry
    head: str | None = None
    removed: set[str] = field(default_factory=set)

    def files(self, kind: str) -> list[dict]:
        """Live add-entries of one kind (``data`` or ``errors``), oldest first."""
        return [entry for entry in self.live.values() if entry["kind"] == kind]

    def copy(self) -> "BucketState":
        """An independent copy (replay and commit never share mutable state with their callers)."""
        return BucketState(self.bucket, self.version, dict(self.live), self.head, set(self.removed))

    def apply(self, record: dict) -> None:
        """Advance this state by one commit record."""
        if record.get("checkpoint"):
            self.live, self.removed = {}, set()
        for removed in record["remove"]:
            self.live.pop(removed, None)
            self.removed.add(removed)
        for entry in record["add"]:
            self.live[entry["path"]] = entry
            self.removed.discard(entry["path"])
        self.version = record["version"]
        self.head = record.get("hash") or record_hash(record)


def finish_commit(set_dir, published: list[str], removed: list[str]) -> None:
    """Make a recorded commit visible: publish its new parts, move the parts it replaced to ``_trash``."""
    for rel in published:
        publish(set_dir, rel)
    for rel in removed:
        trash(set_dir, rel)


def buckets_with_log(set_dir: Path) -> frozenset[int]:
    """The buckets of a feature set that have a commit log, in one listing (none for a new set)."""
    try:
        names = [child.name for child in (as_path(set_dir) / "_log").iterdir()]
    except FileNotFoundError:
        return frozenset()
    return frozenset(int(m.group(1)) for m in map(_BUCKET_LOG_DIR.fullmatch, names) if m)


class BucketLog:
    """Reads and appends the commit log of one bucket of one feature set."""

    def __init__(self, set_dir: Path, bucket: int, *, hashed: bool | None = None):
        """``hashed``: the feature set's ``log_hashes`` flag when the caller has read its metadata already
        (otherwise it is read on first need: one more request per log on an object store)."""
        self.set_dir = as_path(set_dir)
        self.bucket = bucket
        self.dir = self.set_dir / "_log" / f"bucket={bucket:05d}"
        self._cache: BucketState | None = None  # the newest state this object replayed or committed
        self._hashed: bool | None = hashed

    def resume(self, state: BucketState) -> "BucketLog":
        """Continue from ``state`` (one this process replayed): the next ``state()`` reads only newer versions."""
        self._cache = state.copy()
        return self

    @property
    def hashed(self) -> bool:
        """Whether the feature set was created with hashed logs (then a record without a hash is damage)."""
        if self._hashed is None:
            try:
                self._hashed = bool(json.loads((self.set_dir / "feature_set.json").read_text()).get("log_hashes"))
            except FileNotFoundError:
                self._hashed = False
        return self._hashed

    def versions(self) -> list[int]:
        """Version numbers present in the log directory, ascending."""
        try:
            names = [m.group(1) for m in map(_VERSION_FILE.fullmatch, (p.name for p in self.dir.iterdir())) if m]
        except FileNotFoundError:
            return []
        return sorted(map(int, names))

    def path(self, version: int) -> Path:
        """The file of one version."""
        return self.dir / f"{version:08d}.json"

    def _record(self, version: int, present: set) -> dict:
        path = self.path(version)
        if version not in present:
            raise LogDamageError(path, f"commit version {version} of bucket {self.bucket} is missing (later "
                                       f"versions exist)")
        record = load_record(path)
        problem = record_problem(record, version, self.bucket, hashed=self.hashed)
        if problem:
            raise LogDamageError(path, f"damaged commit record: {problem}")
        return record

    def state(self, upto: int | None = None) -> BucketState:
        """Replay the log from its latest checkpoint (or version 1), checking every record and the chain.

        ``upto``: replay only up to that version (a snapshot; see ``mmfeat.store.snapshots``), from the
        latest checkpoint at or before it; 0 is the empty bucket.
        """
        versions = self.versions()
        if upto is not None:
            return self._state_upto(versions, upto)
        if not versions:
            self._cache = BucketState(self.bucket)
            return BucketState(self.bucket)
        return self._replay(versions, versions[-1], remember=True)

    def known_state(self) -> BucketState:
        """The state this object last replayed or committed, without looking at the log again; a replay if
        it has none. It is the base of an optimistic commit: if another writer committed since, creating the
        next version fails (CommitConflictError) and the caller replays. That saves a listing per commit,
        which on an object store is a request."""
        return self._cache.copy() if self._cache is not None else self.state()

    def assume_empty(self) -> "BucketLog":
        """Take the bucket to have no log yet, without listing it (its caller saw none a moment ago):
        ``known_state()`` is then the empty bucket. A commit on that assumption fails if another writer
        has created version 1 since, and the caller replays (see ``known_state``)."""
        self._cache = BucketState(self.bucket)
        return self

    def _state_upto(self, versions: list[int], upto: int) -> BucketState:
        if upto == 0:
            return BucketState(self.bucket)
        if upto < 0 or not versions or upto > versions[-1]:
            raise StoreError(f"{self.dir}: bucket {self.bucket} has no version {upto} (its latest is "
                             f"{versions[-1] if versions else 0})")
        return self._replay([v for v in versions if v <= upto], upto, remember=False)

    def _replay(self, versions: list[int], last: int, *, remember: bool) -> BucketState:
        present = set(versions)
        base = self._cache if self._cache is not None and self._cache.version <= last else None
        records, version = [], last
        while version > (base.version if base else 0):  # newest first, back to a checkpoint or the cached state
            records.append(self._record(version, present))
            if records[-1].get("checkpoint"):
                base = None
                break
            version -= 1
        state = base.copy() if base else BucketState(self.bucket)
        for record in reversed(records):
            expected = None if record.get("checkpoint") else state.head
            if ("prev" in record or self.hashed) and record.get("prev") != expected:
                raise LogDamageError(self.path(record["version"]), "the hash chain is broken here (an earlier "
                                                                   "version was edited, replaced or removed)")
            state.apply(record)
        if remember:
            self._cache = state
        return state.copy()

    def commit(self, base: BucketState, *, add: list[dict], remove: list[str], info: dict,
               checkpoint: bool = False, defer=None) -> int:
        """Append the commit after ``base``; raise CommitConflictError if someone else did first.

        ``add`` entries come from ``write_part`` (their files are staged, and
        published here once the record exists); ``remove`` paths are moved to
        ``_trash``. ``checkpoint`` (used by repair) makes ``add`` the complete
        live set and restarts the hash chain. ``defer(fn, *args)``, if given, runs
        the publishing and trashing later (see ``mmfeat.extract.deferred``): the
        commit has happened once its record exists.
        """
        if RESERVED & info.keys():
            raise ValueError(f"commit info may not use the keys {sorted(RESERVED & info.keys())}")
        version = base.version + 1
        info = {"time": time.time(), **info}  # commit time: what ``FeatureStore.at(time)`` pins by
        record = {"version": version, "bucket": self.bucket, "add": add, "remove": remove, **info,
                  "prev": None if checkpoint else base.head}
        if checkpoint:
            record["checkpoint"] = True
        record = json.loads(json.dumps(record))  # hash exactly what replay will read back (tuples, int keys)
        problem = record_problem(record, version, self.bucket, hashed=False)
        if problem:
            raise StoreError(f"{self.set_dir.name}: bucket {self.bucket}: cannot commit: {problem}")
        record["hash"] = record_hash(record)
        if not create_exclusive_json(self.path(version), record):
            raise CommitConflictError(
                f"{self.set_dir.name}: bucket {self.bucket} was committed by another writer while this "
                f"run was extracting it (version {version} exists). Nothing from this run was published "
                f"for that bucket; rerun the job to add the remaining rows."
            )
        published = [entry["path"] for entry in add]
        if defer is None:
            finish_commit(self.set_dir, published, list(remove))
        else:
            defer(finish_commit, self.set_dir, published, list(remove))
        state = base.copy()
        state.apply(record)
        self._cache = state
        return version
