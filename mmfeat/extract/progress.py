"""Progress of a running extraction, watched by the driver from the files workers write.

Readers record how many rows each shard held (``_runs/RUN_ID/read/``) and units
how many rows they have finished after every chunk but their last
(``_runs/RUN_ID/progress/``); a finished unit's stats (``mmfeat.extract.unit_stats``)
count all its rows, so a one-chunk unit writes no progress file at all. The
driver can show a running total, rate and ETA whatever the runner, with no
metrics API. On a terminal it draws a tqdm bar; otherwise (cron, Airflow) it
logs one plain line every ``interval`` seconds.
"""
import json
import logging
import sys
import threading
import time
from pathlib import Path

from mmfeat.extract.unit_stats import read_unit_stats
from mmfeat.extract.units import unit_name
from mmfeat.store.files import replace_json
from mmfeat.store.objects import as_path

log = logging.getLogger(__name__)


def progress_path(run_dir: Path, unit: str) -> Path:
    """Where a unit records the rows it has finished so far."""
    return as_path(run_dir) / "progress" / f"unit={unit}.json"


def record_progress(run_dir: Path, unit: str, rows_done: int) -> None:
    """Called by a unit after each chunk but its last (its stats file says it is done)."""
    replace_json(progress_path(run_dir, unit), {"rows": rows_done})


def _rows_by_file(directory: Path, pattern: str, key: str) -> dict[str, int]:
    rows = {}
    for path in directory.glob(pattern):
        try:
            rows[path.name] = json.loads(path.read_text())[key]
        except (OSError, ValueError, KeyError):
            continue  # replaced while we read it: counted on the next look
    return rows


def _sum_rows(directory: Path) -> int:
    return sum(_rows_by_file(directory, "*.json", "rows").values())


def rows_done(run_dir: Path, cache: dict | None = None) -> int:
    """Rows the units have finished: finished units by their stats, the others by their progress file.
    ``cache``: see ``read_unit_stats``."""
    done = _rows_by_file(run_dir / "progress", "unit=*.json", "rows")
    for (bucket, slot), stats in read_unit_stats(run_dir, cache).items():
        done[progress_path(run_dir, unit_name(bucket, slot)).name] = stats["n_input"]  # stats supersede progress
    return sum(done.values())


def format_eta(seconds: float) -> str:
    """``125`` -> ``2m05s``."""
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


class RunProgress:
    """A background thread reporting a run's progress until ``stop``; use as a context manager."""

    def __init__(self, name: str, run_dir: Path, *, interval: float = 10.0, bar: bool | None = None):
        self.name, self.run_dir, self.interval = name, as_path(run_dir), interval
        self.bar = sys.stderr.isatty() if bar is None else bar
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="mmfeat-progress", daemon=True)
        self._t0 = time.time()
        self._batches: dict = {}  # stats batches read so far (they never change)
        self.lines: list[str] = []

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)

    def snapshot(self) -> str:
        """One line: rows done out of rows read so far, rate and ETA."""
        done = rows_done(self.run_dir, self._batches)
        read = _sum_rows(self.run_dir / "read")
        elapsed = max(time.time() - self._t0, 1e-9)
        rate = done / elapsed
        line = f"{self.name}: {done:,} rows done"
        if read:
            line += f" of {read:,} read ({100 * done / read:.1f}%)"
        line += f", {rate:,.0f} rows/s"
        if read and rate > 0 and done < read:
            line += f", ETA {format_eta((read - done) / rate)} (rows still being read make it longer)"
        return line

    def _watch(self) -> None:
        bar = None
        if self.bar:
            from tqdm import tqdm

            bar = tqdm(total=0, unit="rows", desc=self.name, dynamic_ncols=True)
        while not self._stop.wait(1.0 if bar is not None else self.interval):
            if bar is not None:
                bar.total = max(_sum_rows(self.run_dir / "read"), bar.total or 0)
                bar.n = rows_done(self.run_dir, self._batches)
                bar.refresh()
            else:
                line = self.snapshot()
                self.lines.append(line)
                log.info("%s", line)
        if bar is not None:
            bar.close()
