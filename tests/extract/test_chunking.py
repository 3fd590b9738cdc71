"""Chunk plans: every row once, bounded chunks, and all copies of an id in one chunk."""
import numpy as np

from mmfeat.extract.chunking import plan_chunks
from mmfeat.extract.units import ShardRefs


def test_every_row_once_in_bounded_chunks_with_repeated_ids_together():
    rng = np.random.default_rng(0)
    digests = rng.integers(0, 400, 1000).astype(np.uint64)  # many ids repeat
    shards = [ShardRefs(f"s{k}", digests[k * 250:(k + 1) * 250], np.arange(250, dtype=np.int64) * 7)
              for k in range(4)]
    inline = np.asarray([3, 3, 999, 1000], np.uint64)
    plans = list(plan_chunks(shards, inline, 64))
    seen = [(k, int(r)) for p in plans for k, refs, _ in p.pieces for r in refs] + [
        ("inline", i) for p in plans for i in p.inline]
    assert len(seen) == len(set(seen)) == 1004
    for plan in plans:
        if not plan.repeated:
            assert plan.rows <= 64
        for _, refs, _ in plan.pieces:
            assert np.all(np.diff(refs) > 0)  # each shard read forward
    where = {}
    for n, plan in enumerate(plans):
        ds = [int(x) for _, _, d in plan.pieces for x in d] + [int(inline[i]) for i in plan.inline]
        for d in ds:
            where.setdefault(d, set()).add(n)
    assert all(len(chunks) == 1 for chunks in where.values())  # never split an id's copies
    assert max(p.rows for p in plans if p.repeated) < 64 + 20  # cut between ids once past the bound
