"""Run a job file: take the job's lock, run its steps in order, write one job report, return one exit code.

Files, under the job's store:

    STORE/_jobs/JOB/lock.json           held while a run works (see ``mmfeat.jobs.lock``)
    STORE/_jobs/JOB/runs/RUN_ID.json    the job report: written at start (``running``), after every step,
                                        and at the end (``ok``, ``failed``, ``error_rate`` or ``terminated``)
    STORE/_jobs/JOB/state.json          per step, the inputs of its last success (what lets a rerun skip it)

A failed step does not stop the steps that do not depend on it; the steps that do are
``blocked``. Exit codes: 0 every step ok or skipped; 1 a step failed; 3 no step failed but a
step's error rate was exceeded (its ``max_error_rate``, or every row failed); 4 another run
of the job holds the lock (see ``EXIT_LOCKED``).
"""
import logging
import os
import signal
import socket
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

from mmfeat.jobs import steps as job_steps
from mmfeat.jobs.lock import HEARTBEAT_S, STALE_AFTER_S, acquire
from mmfeat.store.files import replace_json
from mmfeat.store.layout import new_run_id
from mmfeat.version import __version__

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_ERROR_RATE, EXIT_LOCKED = 0, 1, 3, 4


def job_dir(job) -> Path:
    """``STORE/_jobs/JOB``: the job's lock, reports and state."""
    return Path(job.store).expanduser().resolve() / "_jobs" / job.name


def exit_code(results: list[dict]) -> int:
    """1 if a step failed, else 3 if a step's error rate was exceeded, else 0."""
    statuses = {r["status"] for r in results}
    if "failed" in statuses:
        return EXIT_FAILED
    return EXIT_ERROR_RATE if "error_rate" in statuses else EXIT_OK


@contextmanager
def _terminated_raises():
    """Turn SIGTERM (a scheduler's timeout or a pod's shutdown) into SystemExit, so the lock is released
    and the report says ``terminated`` instead of staying ``running``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def read_state(path: Path) -> dict:
    """The job state (per step id: the skip key and run id of its last success); {} if none or unreadable."""
    import json

    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError:
        log.warning("%s: unreadable job state; every step runs", path)
        return {}


def run_job(job, *, force: bool = False, wait_s: float = 0.0, stale_after_s: float = STALE_AFTER_S,
            heartbeat_s: float = HEARTBEAT_S) -> tuple[dict, int]:
    """Run ``job`` (a JobSpec) under its lock; return ``(report, exit code)``.

    Raises ``LockHeldError`` if another live run holds the lock past ``wait_s`` seconds.
    """
    from mmfeat.beam.runners import resolve

    for item in job.features:  # a bad Beam option fails the job before anything runs
        resolve([*job.beam_args, *item.beam_args])
    steps = job_steps.build_steps(job)
    folder = job_dir(job)
    run_id = new_run_id()
    with _terminated_raises(), acquire(folder / "lock.json", run_id=run_id, wait_s=wait_s,
                                       stale_after_s=stale_after_s, heartbeat_s=heartbeat_s) as lock:
        if lock.taken_over:
            _mark_abandoned(folder, lock.taken_over)
        return _run_steps(job, steps, folder, run_id, force, lock)


def _mark_abandoned(folder: Path, holder: dict) -> None:
    """The report of a run whose stale lock was taken over says so, instead of ``running`` for ever."""
    import json

    path = folder / "runs" / f"{holder.get('run_id')}.json"
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if report.get("status") == "running":
        report.update(status="killed", error=f"the run's process (host {holder.get('host')} pid "
                                             f"{holder.get('pid')}) ended without finishing; a later run took "
                                             f"over its lock")
        replace_json(path, report)


def _run_steps(job, steps, folder: Path, run_id: str, force: bool, lock) -> tuple[dict, int]:
    state_path = folder / "state.json"
    state = read_state(state_path)
    report_path = folder / "runs" / f"{run_id}.json"
    started = time.time()
    report = {"job": job.name, "job_file": job.origin, "run_id": run_id, "store": str(Path(job.store).resolve()),
              "status": "running", "started_at": started, "host": socket.gethostname(), "pid": os.getpid(),
              "mmfeat_version": __version__, "force": force, "report": str(report_path), "lock": str(lock.path),
              "steps": [{"kind": s.kind, "name": s.name, "status": "pending"} for s in steps]}
    if lock.taken_over:
        report["took_over_lock_of"] = lock.taken_over
    results = {}
    try:
        replace_json(report_path, report)
        log.info("job %s run %s: %d step(s); report %s", job.name, run_id, len(steps), report_path)
        for index, step in enumerate(steps):
            report["steps"][index].update(status="running", started_at=time.time())
            replace_json(report_path, report)  # a run that dies here shows the step it died in
            result = _run_one(step, steps, results, job, state, force)
            results[step.id] = result
            report["steps"][index] = {**report["steps"][index], **result}
            if result["status"] == "ok" and "skip_key" in result:
                state[step.id] = {"key": result.pop("skip_key"), "run_id": run_id, "at": time.time()}
                report["steps"][index].pop("skip_key", None)
                replace_json(state_path, state)
            replace_json(report_path, report)
    except BaseException as exc:
        stopped = isinstance(exc, (SystemExit, KeyboardInterrupt))
        report.update(status="terminated" if stopped else "failed", error=f"{type(exc).__name__}: {exc}",
                      finished_at=time.time(),
                      seconds=round(time.time() - started, 3), exit_code=EXIT_FAILED)
        replace_json(report_path, report)
        raise
    code = exit_code(list(results.values()))
    if lock.lost:
        report["error"] = "the lock was taken over by another run while this one ran (heartbeat too old?)"
        code = EXIT_FAILED
    report.update(status={EXIT_OK: "ok", EXIT_FAILED: "failed", EXIT_ERROR_RATE: "error_rate"}[code],
                  exit_code=code, finished_at=time.time(), seconds=round(time.time() - started, 3))
    replace_json(report_path, report)
    return report, code


def _run_one(step, steps, results: dict, job, state: dict, force: bool) -> dict:
    """Run (or skip, or block) one step; never raises for the step's own failure, which becomes data."""
    bad = [s.id for s in job_steps.upstream(step, steps) if results[s.id]["status"] in
           ("failed", "error_rate", "blocked")]
    if bad:
        return {"status": "blocked", "exit_status": None, "error": f"not run: {', '.join(bad)} did not succeed"}
    t0 = time.perf_counter()
    try:
        key = job_steps.skip_key(step, job.store)
        if (key is not None and not force and state.get(step.id, {}).get("key") == key
                and job_steps.output_present(step, job.store)):
            log.info("%s: skipped, its inputs are unchanged since run %s", step.id, state[step.id]["run_id"])
            return {"status": "skipped", "exit_status": 0, "seconds": 0.0, "model_loaded": False,
                    "reason": f"inputs unchanged since job run {state[step.id]['run_id']}"}
        log.info("%s: running", step.id)
        result = job_steps.RUNNERS[step.kind](step, job)
        if key is not None:
            result["skip_key"] = job_steps.skip_key(step, job.store)  # after the run: e.g. its own writes
    except Exception as exc:  # noqa: BLE001 (a step's failure is recorded in the report; other steps go on)
        log.error("%s failed:\n%s", step.id, traceback.format_exc())
        return {"status": "failed", "exit_status": EXIT_FAILED, "seconds": round(time.perf_counter() - t0, 3),
                "error": f"{type(exc).__name__}: {exc}"[:2000]}
    result["seconds"] = round(time.perf_counter() - t0, 3)
    log.info("%s: %s in %.1f s", step.id, result["status"], result["seconds"])
    return result
