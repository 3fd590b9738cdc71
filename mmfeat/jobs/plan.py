"""What an extract step would do, without doing it: per input row, new, changed, stored or bad.

Reads every input row on this machine through the source API (no Beam, no model)
and compares ids and content keys with the store, as the units of a real run would:

- ``new``: the id is not in the set;
- ``changed``: the id is stored (as a row or an error) with other content, or its earlier
  failure would be retried: it would be encoded;
- ``stored``: the id is stored with this very content: skipped;
- ``bad``: the row cannot be read, fails validation or its content key (a missing file), the id
  occurs twice with different contents, or it failed before for this same content and is not retried;
- ``duplicate``: further copies of an id with the same content: skipped.
"""
from collections import Counter, defaultdict

from mmfeat.errors import InputError, StoreError
from mmfeat.extract.unit_job import PERMANENT_STAGES
from mmfeat.records import ErrorRow
from mmfeat.sources.timestamps import with_event_time


def _stored(store_root, spec, fingerprint: str) -> tuple[dict, dict, str | None]:
    """``(data ckey by id, (ckey, fingerprint, stage) by id of errors, problem)`` of the set, if it exists."""
    from mmfeat.store import FeatureStore

    try:
        store = FeatureStore(store_root)
    except StoreError:
        return {}, {}, None  # no store yet: everything is new
    if spec.name not in store.list():
        return {}, {}, None
    problem = None
    if store.info(spec.name).get("fingerprint") != fingerprint:
        problem = (f"the stored set {spec.name!r} was computed with a different spec or model "
                   f"(fingerprint differs): extract would fail")
    data = store.read(spec.name, columns=["id", "content_key"])
    stored = dict(zip(data["id"].to_pylist(), data["content_key"].to_pylist()))
    errors = store.errors(spec.name).to_pylist()
    failed = {e["id"]: (e.get("content_key"), e.get("fingerprint"), e["stage"]) for e in errors}
    return stored, failed, problem


def plan_extract(step, spec, store_root) -> dict:
    """Counts of new, changed, stored, bad and duplicate rows of one feature step (see the module docstring)."""
    from mmfeat.sources.select import open_source

    fingerprint = spec.fingerprint(spec.identity())
    stored, failed, problem = _stored(store_root, spec, fingerprint)
    validator = spec.create_encoder()
    source = open_source(step.inputs, spec, kind=step.source, id_column=step.id_column)
    counts = Counter({k: 0 for k in ("new", "changed", "stored", "bad", "duplicate")})
    keys = defaultdict(list)
    for shard in source.list_shards():
        for row in source.read_shard(shard):
            if isinstance(row, ErrorRow):
                counts["bad"] += 1
                continue
            if validator.validate(row.value):
                counts["bad"] += 1
                continue
            try:
                keys[row.id].append(with_event_time(validator.content_key(row.value), row.event_time))
            except InputError:
                counts["bad"] += 1
    for id_, ckeys in keys.items():
        if len(set(ckeys)) > 1:
            counts["bad"] += len(ckeys)  # ambiguous: every copy becomes an error row
            continue
        counts["duplicate"] += len(ckeys) - 1
        counts[_verdict(id_, ckeys[0], stored, failed, fingerprint, step.retry_errors)] += 1
    out = {**counts, "rows": sum(counts.values())}
    if problem:
        out["problem"] = problem
    return out


def _verdict(id_, ckey, stored, failed, fingerprint, retry_errors) -> str:
    if id_ in stored:
        return "stored" if stored[id_] == ckey else "changed"
    if id_ in failed:
        known_key, known_fp, stage = failed[id_]
        if not retry_errors and known_key == ckey and known_fp == fingerprint and stage in PERMANENT_STAGES:
            return "bad"
        return "changed"
    return "new"
