"""Work-unit keying and the packed refs that cross the shuffle."""
import numpy as np

from mmfeat.buckets import bucket_of
from mmfeat.extract.candidates import index_shard
from mmfeat.extract.units import RefCollector, ShardRefs, id_digest, unit_of
from mmfeat.records import ErrorRow
from mmfeat.sources.manifest import ManifestSource
from tests.conftest import sentences, write_jsonl


def test_unit_bucket_is_the_store_bucket_and_slots_split_a_bucket_evenly():
    ids = [f"id-{k}" for k in range(4000)]
    units = [unit_of(id_digest(i), 16, 4) for i in ids]
    assert [b for b, _ in units] == [bucket_of(i, 16) for i in ids]
    counts = np.bincount([s for _, s in units], minlength=4)
    assert counts.min() > 800  # 1000 expected per slot
    assert unit_of(id_digest("x"), 16, 1)[1] == 0


def test_refs_pack_to_16_bytes_a_row_and_come_back_sorted():
    collector = RefCollector("shard-a")
    for ref in (900, 5, 77):
        collector.add((1, 2), id_digest(f"r{ref}"), ref)
    [(unit, refs)] = list(collector.drain())
    wire = refs.to_wire()
    assert unit == (1, 2) and len(wire[1]) == len(wire[2]) == 3 * 8
    back = ShardRefs.from_wire(wire)
    assert back.refs.tolist() == [5, 77, 900]
    assert back.digests.tolist() == [id_digest(f"r{r}") for r in (5, 77, 900)]


def test_index_shard_accounts_for_every_row_and_ships_no_values(tmp_path):
    rows = sentences(50) + ["{broken json", {"text": "no id"}]
    manifest = str(write_jsonl(tmp_path / "m.jsonl", rows))
    source = ManifestSource(manifest, column="text")
    out = list(index_shard(source, manifest, 4, 2))
    assert sum(n for _, _, n in out) == len(rows)
    kinds = {kind for _, (kind, _), _ in out}
    assert kinds == {"refs", "error"}  # values never travel for a seekable manifest
    errors = [ErrorRow(*payload) for _, (kind, payload), _ in out if kind == "error"]
    assert {e.line for e in errors} == {51, 52}
    for unit, (kind, payload), _ in out:
        if kind == "refs":
            refs = ShardRefs.from_wire(payload)
            assert all(unit_of(int(d), 4, 2) == unit for d in refs.digests)
