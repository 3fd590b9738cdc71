"""One run of a job at a time: a lock file created exclusively under the store, with a heartbeat.

``STORE/_jobs/JOB/lock.json`` holds the holder's host, pid (and the pid's start
time, so a reused pid is not mistaken for the holder), run id and start time. It is
created with ``create_exclusive_json`` (write a temp file, hard-link it into
place), so exactly one of several starting runs gets it. While the run works, a
thread touches the file's mtime every ``heartbeat_s`` seconds.

A lock is stale when its holder is on this host and its process is gone (a
``kill -9``, an OOM kill, a reboot), or, for a holder on another host (another
pod of a CronJob), when its heartbeat is older than ``stale_after_s``. A stale
lock is taken over safely: the taker first creates a takeover marker
(``takeover-TOKEN-K``) exclusively, so among racers for the same stale lock only
one moves it aside; the others go back to waiting on the new holder's lock. A
marker whose creator died in turn is passed over with the next ``K``.
"""
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from mmfeat.errors import MmfeatError
from mmfeat.store.files import create_exclusive_json

log = logging.getLogger(__name__)

HEARTBEAT_S = 30.0
STALE_AFTER_S = 600.0
MARKER_STALE_S = 60.0


class LockHeldError(MmfeatError):
    """Another live run of the job holds its lock; ``holder`` is that lock's content."""

    def __init__(self, path: Path, holder: dict):
        self.path, self.holder = path, holder
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(holder.get("started_at", 0)))
        super().__init__(f"another run of this job holds the lock: host {holder.get('host')} pid "
                         f"{holder.get('pid')} since {started} (run {holder.get('run_id')}; lock file {path})")


def _pid_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None where /proc has none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    now = _pid_start(pid)
    return start is None or now is None or now == start


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {"token": "unreadable", "host": "?", "pid": None, "started_at": path.stat().st_mtime}


def is_stale(path: Path, holder: dict, stale_after_s: float) -> bool:
    """Whether ``holder`` (the content of ``path``) belongs to a run that is gone."""
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        return not _alive(holder["pid"], holder.get("pid_start"))
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age > stale_after_s


@dataclass
class JobLock:
    """A held lock; ``release()`` (or leaving the ``with`` block) gives it back. ``lost`` is set if the
    heartbeat found another holder's lock in its place (this run was taken for dead)."""

    path: Path
    token: str
    holder: dict
    taken_over: dict | None = None
    lost: bool = False

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = None

    def start_heartbeat(self, every_s: float) -> None:
        """Touch the lock file every ``every_s`` seconds from a daemon thread, while it is still ours."""
        self._thread = threading.Thread(target=self._beat, args=(every_s,), daemon=True, name="mmfeat-job-lock")
        self._thread.start()

    def _beat(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            current = _read(self.path)
            if current is None or current.get("token") != self.token:
                self.lost = True
                log.error("%s: this run's lock was taken over by %s; another run may now be running", self.path,
                          current)
                return
            try:
                os.utime(self.path)
            except FileNotFoundError:
                continue  # moved aside by a taker this very moment: the next beat sees its lock

    def release(self) -> None:
        """Stop the heartbeat and delete the lock file if it is still this run's (and any takeover markers)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        current = _read(self.path)
        if current is not None and current.get("token") == self.token:
            self.path.unlink(missing_ok=True)
        for marker in self.path.parent.glob(f"{self.path.name}.takeover-*"):
            marker.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _take_over(path: Path, stale: dict, me: dict) -> bool:
    """Move the stale lock aside if this process wins the takeover; True if it did."""
    for k in range(1000):
        marker = path.with_name(f"{path.name}.takeover-{stale.get('token')}-{k}")
        if create_exclusive_json(marker, me):
            current = _read(path)
            if current is None or current.get("token") != stale.get("token"):
                return False  # already replaced: nothing of ours to move
            aside = path.with_name(f".{path.name}.stale-{uuid.uuid4().hex}")
            os.rename(path, aside)
            moved = _read(aside)
            if moved is not None and moved.get("token") != stale.get("token"):
                os.link(aside, path)  # not the stale lock after all: put it back (fails if replaced again)
            aside.unlink()
            return True
        owner = _read(marker) or {}
        if not is_stale(marker, owner, MARKER_STALE_S):
            return False  # another process is taking over right now
    raise MmfeatError(f"{path}: more than 1000 takeover markers; delete {path.name}.takeover-* by hand")


def acquire(path, *, run_id: str, wait_s: float = 0.0, stale_after_s: float = STALE_AFTER_S,
            heartbeat_s: float = HEARTBEAT_S, poll_s: float = 1.0) -> JobLock:
    """Take the lock at ``path`` within ``wait_s`` seconds, or raise ``LockHeldError`` naming the holder.

    A stale lock (see the module docstring) is taken over; ``JobLock.taken_over`` is its content.
    """
    path = Path(path)
    token = uuid.uuid4().hex
    me = {"token": token, "host": socket.gethostname(), "pid": os.getpid(), "pid_start": _pid_start(os.getpid()),
          "run_id": run_id, "started_at": time.time()}
    deadline = time.monotonic() + wait_s
    taken_over = None
    while True:
        if create_exclusive_json(path, me):
            lock = JobLock(path, token, me, taken_over)
            lock.start_heartbeat(heartbeat_s)
            return lock
        holder = _read(path)
        if holder is None:
            continue  # released between our attempt and the read
        if is_stale(path, holder, stale_after_s):
            if _take_over(path, holder, me):
                log.warning("%s: took over the stale lock of host %s pid %s (run %s)", path, holder.get("host"),
                            holder.get("pid"), holder.get("run_id"))
                taken_over = holder
                continue
            holder = _read(path) or holder  # another process is taking over: name it if it got the lock
        if time.monotonic() >= deadline:
            raise LockHeldError(path, holder)
        time.sleep(min(poll_s, max(0.05, deadline - time.monotonic())))
