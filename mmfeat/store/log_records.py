"""One commit record of a bucket log: its canonical hash and the checks replay applies to it.

Each record holds ``hash``, the sha256 of its own canonical JSON (every key but
``hash``, sorted, compact), and ``prev``, the hash of the record before it. So
an edited, truncated or reordered record breaks the chain where it happens, and
replay names that file. A ``checkpoint`` record (written by ``repair``) lists
every live file itself and starts a new chain: replay begins at the latest one,
and damaged versions before it no longer matter.
"""
import json
from hashlib import sha256
from pathlib import Path

from mmfeat.errors import StoreError
from mmfeat.store.checksums import ALGORITHMS
from mmfeat.store.layout import entry_path_problem
from mmfeat.store.objects import as_path

RESERVED = frozenset({"version", "bucket", "add", "remove", "prev", "hash", "checkpoint"})
ENTRY_KEYS = ("path", "kind", "rows", "bytes")


class LogDamageError(StoreError):
    """A commit record that cannot be replayed; ``path`` is its file and ``problem`` says why."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"{path}: {problem}. {repair_hint(path.parents[2])}")
        self.path, self.problem = as_path(path), problem


def record_hash(record: dict) -> str:
    """sha256 of a record's canonical JSON, ``hash`` itself left out."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def repair_hint(set_dir: Path) -> str:
    """The sentence every store-damage message ends with."""
    set_dir = as_path(set_dir)
    return (f"Run `mmfeat verify --store {set_dir.parent} {set_dir.name}` to list the damage and "
            f"`mmfeat repair --store {set_dir.parent} {set_dir.name}`, then rerun the extract.")


def record_problem(record, version: int, bucket: int, *, hashed: bool) -> str | None:
    """Why a parsed record cannot be replayed (shape, paths, own hash), or None.

    ``hashed``: the feature set was created with hashed logs, so a record
    without ``hash`` is damage, not an old format.
    """
    if not isinstance(record, dict):
        return "not a commit record (not a JSON object)"
    if record.get("version") != version or record.get("bucket") != bucket:
        return f"records version {record.get('version')} of bucket {record.get('bucket')}, not {version} of {bucket}"
    if not isinstance(record.get("add"), list) or not isinstance(record.get("remove"), list):
        return "its add or remove list is missing"
    for entry in record["add"]:
        if not isinstance(entry, dict) or any(k not in entry for k in ENTRY_KEYS) or \
                not any(k in entry for k in ALGORITHMS):
            return f"add entry {entry!r} lacks one of {', '.join(ENTRY_KEYS)} or a checksum"
        problem = entry_path_problem(entry["path"], bucket, entry["kind"])
        if problem:
            return f"refusing {problem}"
    for path in record["remove"]:
        problem = entry_path_problem(path, bucket)
        if problem:
            return f"refusing {problem}"
    if "hash" in record:
        if record["hash"] != record_hash(record):
            return "its content does not match its recorded hash (the record was edited or damaged)"
    elif hashed:
        return "it has no hash (the record was edited or damaged)"
    return None


def load_record(path: Path):
    """Parse one version file; raise StoreError naming it if it is not JSON."""
    try:
        return json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LogDamageError(path, f"damaged commit record, not valid JSON ({exc})") from None
