"""Duplicate ids within one run's input, resolved per bucket (all copies of an id share a bucket)."""
from collections import defaultdict

from mmfeat.records import ErrorRow


def resolve_duplicate_ids(candidates):
    """Split candidates into ``(unique, n_skipped, errors)``.

    Copies of an id with identical content collapse to the first (by file and
    line), the rest counted as skipped. An id that appears with different
    contents is ambiguous: every copy becomes an error row naming the others.
    """
    by_id = defaultdict(list)
    for c in candidates:
        by_id[c.id].append(c)
    unique, skipped, errors = [], 0, []
    for id_, copies in by_id.items():
        if len(copies) == 1:
            unique.append(copies[0])
            continue
        copies.sort(key=lambda c: (c.source, c.line))
        if len({c.ckey for c in copies}) == 1:
            unique.append(copies[0])
            skipped += len(copies) - 1
            continue
        where = ", ".join(f"{c.source}:{c.line}" for c in copies[:5])
        reason = f"duplicate id with different content ({len(copies)} rows: {where})"
        errors.extend(ErrorRow(id_, "dedup", reason, c.source, c.line) for c in copies)
    return unique, skipped, errors
