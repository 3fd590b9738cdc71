"""What an on-call engineer wants first about a feature set: size, shape, and how its last run went.

``set_summary`` reads only the log, one part's schema and the newest run report;
``error_summary`` groups the current error rows by stage and reason (numbers and
paths blurred), so a million bad rows print as a handful of lines.
"""
import re
from collections import Counter

from mmfeat.store.lifecycle import locate


def reason_key(stage: str, reason: str) -> str:
    """Histogram key for an error: its stage and reason with numbers blurred and detail in brackets cut."""
    return f"{stage}: {re.sub(r'[0-9]+', 'N', (reason or '').split(' (')[0])}"


def _vector_shape(store, name: str) -> tuple[int | None, str | None]:
    import pyarrow.parquet as pq

    for state in store.states(name):
        for entry in state.files("data"):
            path = locate(store.set_dir(name), entry["path"], roll_forward=False)
            if path is None:
                continue
            with path.open("rb") as f:  # a local file or an object-store one alike
                kind = pq.read_schema(f).field("embedding").type
            size = getattr(kind, "list_size", None)
            return size, str(kind.value_type)
    return None, None


def set_summary(store, name: str) -> dict:
    """Modality, vector dim and dtype, rows, errors, bytes on disk, the set's version (its commit count,
    see ``mmfeat.store.snapshots``), and the newest run's status."""
    info, counts = store.info(name), store.counts(name)
    dim, dtype = _vector_shape(store, name)
    runs = store.runs(name)
    last = runs[-1] if runs else {}
    return {"name": name, "modality": info["modality"], "dim": dim, "dtype": dtype, "rows": counts["rows"],
            "errors": counts["errors"], "bytes": counts["bytes"], "version": store.version(name).version,
            "fingerprint": info["fingerprint"][:12],
            "last_run": last.get("run_id"), "last_status": last.get("status", "ok" if last else None),
            "last_error_rate": last.get("error_rate"), "last_started_at": last.get("started_at")}


def error_summary(store, name: str, *, top: int = 20) -> dict:
    """``{"total": n, "by_reason": {key: count}}`` over the current error rows, most frequent first."""
    table = store.errors(name)
    keys = Counter(reason_key(s, r) for s, r in zip(table["stage"].to_pylist(), table["reason"].to_pylist()))
    return {"total": table.num_rows, "by_reason": dict(keys.most_common(top)),
            "other_reasons": max(0, len(keys) - top)}


def human_bytes(n: int) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
