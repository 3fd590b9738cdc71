"""Per-bucket commit log: the single source of truth for which files are live.

Each commit is ``_log/bucket=NNNNN/VVVVVVVV.json`` holding the files it adds
(with row count and sha256) and the files it removes. Version ``v`` is created
exclusively, so two writers that both read version ``v-1`` cannot both commit:
the loser gets ``CommitConflictError`` and nothing it wrote becomes visible.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path

from mmfeat.errors import CommitConflictError, StoreError
from mmfeat.store.files import create_exclusive_json


@dataclass
class BucketState:
    """The live files of one bucket after replaying its log up to ``version``."""

    bucket: int
    version: int = 0
    live: dict[str, dict] = field(default_factory=dict)  # relative path -> add entry

    def files(self, kind: str) -> list[dict]:
        """Live add-entries of one kind (``data`` or ``errors``), oldest first."""
        return [entry for entry in self.live.values() if entry["kind"] == kind]


class BucketLog:
    """Reads and appends the commit log of one bucket of one feature set."""

    def __init__(self, set_dir: Path, bucket: int):
        self.set_dir = Path(set_dir)
        self.bucket = bucket
        self.dir = self.set_dir / "_log" / f"bucket={bucket:05d}"

    def state(self) -> BucketState:
        """Replay every commit in version order."""
        state = BucketState(self.bucket)
        if not self.dir.exists():
            return state
        versions = sorted(int(p.stem) for p in self.dir.glob("[0-9]*.json"))
        for expected, version in enumerate(versions, start=1):
            if version != expected:
                raise StoreError(f"{self.dir}: commit {expected:08d}.json is missing (found {version:08d}.json)")
            path = self.dir / f"{version:08d}.json"
            try:
                commit = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise StoreError(f"{path}: damaged commit record ({exc})") from None
            for removed in commit["remove"]:
                state.live.pop(removed, None)
            for entry in commit["add"]:
                state.live[entry["path"]] = entry
            state.version = version
        return state

    def commit(self, base: BucketState, *, add: list[dict], remove: list[str], info: dict) -> int:
        """Append the commit after ``base``; raise CommitConflictError if someone else did first."""
        version = base.version + 1
        payload = {"version": version, "bucket": self.bucket, "add": add, "remove": remove, **info}
        if not create_exclusive_json(self.dir / f"{version:08d}.json", payload):
            raise CommitConflictError(
                f"{self.set_dir.name}: bucket {self.bucket} was committed by another writer while this "
                f"run was extracting it (version {version} exists). Nothing from this run was published "
                f"for that bucket; rerun the job to add the remaining rows."
            )
        return version
