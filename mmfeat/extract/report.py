"""Merge per-unit stats into one run report and check that every row is accounted for."""
import json
from collections import Counter
from pathlib import Path

from mmfeat.errors import MmfeatError
from mmfeat.extract.unit_stats import read_unit_stats
from mmfeat.store.objects import as_path, read_many

COUNTS = ("n_input", "n_ok", "n_error", "n_skipped", "n_encoded", "n_reused", "n_batches", "n_commits")


def merge_unit_stats(run_dir: Path) -> dict:
    """Sum the stats of the units a run finished (``mmfeat.extract.unit_stats``); reasons are added up
    per key.

    Works whatever the runner: it needs no metrics API, only the stats workers
    write after each unit's last commit. ``encoded_by_worker`` counts rows encoded per host and process.
    """
    totals = Counter({k: 0 for k in COUNTS})
    errors, skipped, seconds, workers = Counter(), Counter(), Counter(), Counter()
    buckets, units = set(), 0
    for stats in read_unit_stats(run_dir).values():
        units += 1
        buckets.add(stats["bucket"])
        totals.update({k: stats.get(k, 0) for k in COUNTS})
        errors.update(stats["errors_by_reason"])
        skipped.update(stats["skipped_by_reason"])
        seconds.update(stats["seconds"])
        if stats.get("n_encoded"):
            workers[f"{stats['host']}:{stats['pid']}"] += stats["n_encoded"]
    return {**totals, "errors_by_reason": dict(errors.most_common()), "skipped_by_reason": dict(skipped),
            "unit_seconds": {k: round(v, 3) for k, v in seconds.items()}, "units_processed": units,
            "buckets_processed": len(buckets), "encoded_by_worker": dict(workers)}


def rows_read(run_dir: Path) -> int | None:
    """Rows the readers reported (one file per shard), or None if no reader wrote one."""
    paths = list((as_path(run_dir) / "read").glob("*.json"))
    return sum(json.loads(raw)["rows"] for raw in read_many(paths)) if paths else None


def check_accounting(report: dict, n_read: int | None) -> None:
    """Raise if ``n_input != n_ok + n_error + n_skipped`` or if rows were read but never reached a unit."""
    n_input = report["n_input"]
    if n_input != report["n_ok"] + report["n_error"] + report["n_skipped"]:
        raise MmfeatError(f"accounting failed: {report}")
    if n_read is not None and n_read != n_input:
        raise MmfeatError(
            f"accounting failed: the sources yielded {n_read} rows but units accounted for {n_input}; "
            f"the run report is incomplete (were unit stats files deleted?)"
        )


def error_rate(report: dict) -> float:
    """Fraction of input rows that ended as errors (0 for an empty input)."""
    return report["n_error"] / report["n_input"] if report["n_input"] else 0.0
