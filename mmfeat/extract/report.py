"""Merge per-bucket stats into one run report and check that every row is accounted for."""
import json
from collections import Counter
from pathlib import Path

from mmfeat.errors import MmfeatError

COUNTS = ("n_input", "n_ok", "n_error", "n_skipped", "n_encoded", "n_reused", "n_batches")


def merge_bucket_stats(run_dir: Path) -> dict:
    """Sum the ``bucket=*.json`` files a run wrote; reasons are added up per key."""
    totals = Counter({k: 0 for k in COUNTS})
    errors, skipped, seconds = Counter(), Counter(), Counter()
    buckets = []
    for path in sorted(Path(run_dir).glob("bucket=*.json")):
        stats = json.loads(path.read_text())
        buckets.append(stats["bucket"])
        totals.update({k: stats.get(k, 0) for k in COUNTS})
        errors.update(stats["errors_by_reason"])
        skipped.update(stats["skipped_by_reason"])
        seconds.update(stats["seconds"])
    return {**totals, "errors_by_reason": dict(errors.most_common()), "skipped_by_reason": dict(skipped),
            "bucket_seconds": {k: round(v, 3) for k, v in seconds.items()}, "buckets_processed": len(buckets)}


def check_accounting(report: dict, rows_read: int | None) -> None:
    """Raise if ``n_input != n_ok + n_error + n_skipped`` or if rows were read but never reached a bucket."""
    n_input = report["n_input"]
    if n_input != report["n_ok"] + report["n_error"] + report["n_skipped"]:
        raise MmfeatError(f"accounting failed: {report}")
    if rows_read is not None and rows_read != n_input:
        raise MmfeatError(
            f"accounting failed: the sources yielded {rows_read} rows but buckets accounted for {n_input}; "
            f"the run report is incomplete (was a bucket stats file deleted?)"
        )


def error_rate(report: dict) -> float:
    """Fraction of input rows that ended as errors (0 for an empty input)."""
    return report["n_error"] / report["n_input"] if report["n_input"] else 0.0
