"""What a unit knows of its slice of the store: for each stored id of its slot, where and what it is.

A unit needs the stored ``content_key`` of its ids (to skip them), the part that
holds each one (to rewrite only that part when content changes) and the bucket's
error rows for its ids (to leave unchanged failures alone). Parts are immutable,
so each is read once per unit; ``refresh`` after a lost commit reads only the
parts other writers added since.

Parts a unit wrote carry ``"slot": [slot, n_slots]`` in their log entry, so a
unit reads only its own slot's parts plus untagged ones (older stores, compacted
parts), whose rows it filters by id. Memory is bounded by the stored rows of one
slot, not by the bucket or the corpus.
"""
from dataclasses import dataclass

from mmfeat.extract.units import id_digest, unit_of
from mmfeat.store.parts import read_part
from mmfeat.store.slots import may_hold, slots_of

@dataclass(frozen=True)
class StoredError:
    """An id's current error row: the stage and reason, the content key it failed for, and the spec."""

    stage: str
    reason: str
    ckey: str | None
    fingerprint: str | None
    path: str
    rows: int = 1  # error rows the id has (a duplicate id has one per copy)


def _is_pure(entry: dict, slot: int, n_slots: int) -> bool:
    tags = slots_of(entry)
    return tags is not None and tags[1] == n_slots and tags[0] == {slot}


class SlotIndex:
    """The stored ids of one unit (bucket, slot) with their content keys, errors and parts."""

    def __init__(self, set_dir, bucket: int, slot: int, n_buckets: int, n_slots: int):
        self.set_dir, self.bucket, self.slot = set_dir, bucket, slot
        self.n_buckets, self.n_slots = n_buckets, n_slots
        self.data: dict[str, tuple[str, str]] = {}  # id -> (content_key, path)
        self.errors: dict[str, StoredError] = {}
        self._loaded: set[str] = set()
        self.version = 0

    def mine(self, id_: str) -> bool:
        """Whether ``id_`` belongs to this unit."""
        return unit_of(id_digest(id_), self.n_buckets, self.n_slots) == (self.bucket, self.slot)

    def refresh(self, state) -> list[str]:
        """Bring the index up to ``state`` (a BucketState); return the paths read for the first time."""
        live = {path: entry for path, entry in state.live.items() if may_hold(entry, self.slot, self.n_slots)}
        gone = self._loaded - set(live)
        if gone:
            self.data = {i: v for i, v in self.data.items() if v[1] not in gone}
            self.errors = {i: v for i, v in self.errors.items() if v.path not in gone}
            self._loaded -= gone
        new = [path for path in live if path not in self._loaded]
        for path in new:
            self._load(live[path])
            self._loaded.add(path)
        self.version = state.version
        return new

    def _load(self, entry: dict) -> None:
        path, pure = entry["path"], _is_pure(entry, self.slot, self.n_slots)
        if entry["kind"] == "data":
            table = read_part(self.set_dir, entry, ["id", "content_key"], verify=False)
            for id_, ckey in zip(table["id"].to_pylist(), table["content_key"].to_pylist()):
                if pure or self.mine(id_):
                    self.data[id_] = (ckey, path)
            return
        table = read_part(self.set_dir, entry, None, verify=False)
        columns = {name: table[name].to_pylist() if name in table.column_names else [None] * table.num_rows
                   for name in ("id", "stage", "reason", "content_key", "fingerprint")}
        for id_, stage, reason, ckey, fp in zip(*columns.values()):
            if pure or self.mine(id_):
                before = self.errors.get(id_)
                rows = before.rows + 1 if before is not None and before.path == path else 1
                self.errors[id_] = StoredError(stage, reason, ckey, fp, path, rows)

    def note_committed(self, data: dict | None, ids, ckeys, errors: dict | None, error_rows, fingerprint) -> None:
        """Add the parts this unit just committed from what it wrote, instead of reading them back."""
        if data is not None:
            self.data.update((id_, (ckey, data["path"])) for id_, ckey in zip(ids, ckeys))
            self._loaded.add(data["path"])
        if errors is not None:
            counts: dict[str, int] = {}
            for row in error_rows:
                counts[row.id] = counts.get(row.id, 0) + 1
                self.errors[row.id] = StoredError(row.stage, row.reason, row.ckey, fingerprint, errors["path"],
                                                  counts[row.id])
            self._loaded.add(errors["path"])

    def parts_holding(self, kind: str, ids) -> dict[str, set[str]]:
        """``{path: ids}`` for the live parts of ``kind`` that hold any of ``ids``."""
        out: dict[str, set[str]] = {}
        table = self.data if kind == "data" else self.errors
        for id_ in ids:
            hit = table.get(id_)
            if hit is not None:
                out.setdefault(hit[1] if kind == "data" else hit.path, set()).add(id_)
        return out

    def paths_of_ckeys(self, ckeys: set) -> dict[str, set[str]]:
        """``{path: content keys}`` locating stored vectors for ``ckeys`` (to copy rather than encode)."""
        out: dict[str, set[str]] = {}
        for ckey, path in self.data.values():
            if ckey in ckeys:
                out.setdefault(path, set()).add(ckey)
        return out

    def stored_ckeys(self) -> set:
        """Every content key stored in this slot."""
        return {ckey for ckey, _ in self.data.values()}
