"""Finished units' stats, written in batches: the run report's and the progress display's source.

A unit's stats (rows in, ok, errors, skipped, encoded, host and pid …) are what
the driver adds up into the run report, whatever the runner (no metrics API is
needed), and what the progress display counts as done. They are written after
the unit's last commit. A worker collects the stats of the units it finishes and
writes them together, one file per batch under a name of its own
(``_runs/RUN_ID/units/TOKEN.json``): at the end of every Beam bundle, and in
between once ``flush_seconds`` have passed since its last write. On an object
store each file is a PUT for the worker and a GET for the driver, so batching
saves two requests for nearly every unit; on a local disk every unit is written
at once (``flush_seconds=0``).

A bundle that fails and is retried runs its units again, and a unit can then
appear in two batches: readers keep one record per unit, the one finished last,
as a per-unit file overwritten by the retry would have.
"""
import json
import time
import uuid
from pathlib import Path

from mmfeat.store.files import replace_json
from mmfeat.store.objects import as_path, read_many

BATCH_DIR = "units"
OBJECT_STORE_FLUSH_SECONDS = 5.0


def batch_dir(run_dir: Path) -> Path:
    """Where a run's stats batches are."""
    return as_path(run_dir) / BATCH_DIR


class UnitStatsBatch:
    """Collects finished units' stats and writes them as one file per batch.

    ``submit(fn, *args)`` runs the write (a ``Deferred``'s submit on an object
    store, so the write waits behind the commits it reports).
    """

    def __init__(self, run_dir: Path, submit, *, flush_seconds: float = 0.0):
        self.run_dir, self.submit, self.flush_seconds = as_path(run_dir), submit, flush_seconds
        self._pending: list[dict] = []
        self._last = time.monotonic()

    def add(self, stats: dict) -> None:
        """Add one finished unit's stats; writes the batch if it is due."""
        self._pending.append({**stats, "finished_at": time.time()})
        if time.monotonic() - self._last >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Write the stats collected since the last write, if any."""
        self._last = time.monotonic()
        if not self._pending:
            return
        units, self._pending = self._pending, []
        self.submit(replace_json, batch_dir(self.run_dir) / f"{uuid.uuid4().hex}.json", {"units": units})


def read_unit_stats(run_dir: Path, cache: dict | None = None) -> dict[tuple[int, int], dict]:
    """``{(bucket, slot): stats}`` of every unit the run finished so far, the last record of each.

    ``cache`` (file name -> units), kept by a caller that reads repeatedly, saves
    reading a batch twice: batches are never rewritten.
    """
    cache = {} if cache is None else cache
    paths = sorted(batch_dir(run_dir).glob("*.json"))
    new = [p for p in paths if p.name not in cache]
    for path, raw in zip(new, read_many(new)):
        cache[path.name] = json.loads(raw)["units"]
    latest: dict[tuple[int, int], dict] = {}
    for path in paths:
        for stats in cache[path.name]:
            key = (stats["bucket"], stats["slot"])
            if key not in latest or stats["finished_at"] >= latest[key]["finished_at"]:
                latest[key] = stats
    return latest
