"""Plan a unit's chunks from its refs: bounded in rows, with every copy of an id in one chunk.

Rows whose id occurs once in the unit come first, in shard and ref order, so
each chunk reads its shards forward. Rows whose id occurs more than once come
last, ordered by id digest, and a chunk is only cut between two ids, so
duplicate ids are resolved within a chunk, exactly. The plan holds only refs and
digests (16 bytes a row); the unit fetches each chunk's values when it gets there.
"""
from dataclasses import dataclass, field

import numpy as np


@dataclass
class ChunkPlan:
    """One chunk: per shard (index into the unit's ShardRefs) the refs to fetch, and inline row indices."""

    pieces: list = field(default_factory=list)  # (shard index, refs ascending, digests aligned)
    inline: list = field(default_factory=list)  # indices into the unit's inline records
    repeated: bool = False  # holds ids that occur more than once: never split further

    @property
    def rows(self) -> int:
        return sum(len(r) for _, r, _ in self.pieces) + len(self.inline)


def plan_chunks(refs: list, inline_digests: np.ndarray, chunk_rows: int):
    """Yield ChunkPlans covering every ref and inline row exactly once."""
    every = np.concatenate([r.digests for r in refs] + [np.asarray(inline_digests, np.uint64)])
    values, counts = np.unique(every, return_counts=True)
    repeated = values[counts > 1]
    plan = ChunkPlan()
    for k, sr in enumerate(refs):
        once = ~np.isin(sr.digests, repeated)
        r, d = sr.refs[once], sr.digests[once]
        start = 0
        while start < len(r):
            take = min(chunk_rows - plan.rows, len(r) - start)
            plan.pieces.append((k, r[start:start + take], d[start:start + take]))
            start += take
            if plan.rows >= chunk_rows:
                yield plan
                plan = ChunkPlan()
    for i in np.nonzero(~np.isin(inline_digests, repeated))[0].tolist():
        plan.inline.append(i)
        if plan.rows >= chunk_rows:
            yield plan
            plan = ChunkPlan()
    if plan.rows:
        yield plan
    if len(repeated):
        yield from _repeated_plans(refs, np.asarray(inline_digests, np.uint64), repeated, chunk_rows)


def _repeated_plans(refs, inline_digests, repeated, chunk_rows):
    digests, shards, positions = [], [], []
    for k, sr in enumerate(refs):
        twice = np.isin(sr.digests, repeated)
        digests.append(sr.digests[twice]), shards.append(np.full(twice.sum(), k)), positions.append(sr.refs[twice])
    twice = np.isin(inline_digests, repeated)
    digests.append(inline_digests[twice]), shards.append(np.full(twice.sum(), -1))
    positions.append(np.nonzero(twice)[0])
    d, s, p = np.concatenate(digests), np.concatenate(shards), np.concatenate(positions)
    order = np.argsort(d, kind="stable")
    d, s, p = d[order], s[order], p[order]
    cuts = np.nonzero(np.diff(d))[0] + 1  # where one id's copies end and the next begin
    start = 0
    for end in [*cuts.tolist(), len(d)]:
        if end - start >= chunk_rows or end == len(d):
            yield _plan_of(d[start:end], s[start:end], p[start:end])
            start = end


def _plan_of(d, s, p) -> ChunkPlan:
    plan = ChunkPlan(repeated=True)
    for k in np.unique(s).tolist():
        sel = s == k
        if k < 0:
            plan.inline.extend(p[sel].tolist())
            continue
        order = np.argsort(p[sel], kind="stable")
        plan.pieces.append((k, p[sel][order], d[sel][order]))
    return plan
