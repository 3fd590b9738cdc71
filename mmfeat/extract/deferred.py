"""Steps that may finish after a unit's work, run on one background thread so the next unit can start.

Once a commit's log record exists the commit has happened: publishing its parts
(on an object store a server-side copy and a DELETE each), moving
replaced parts to ``_trash`` and writing the unit's stats file only make it
visible to plain readers and to the run report. Readers that meet a committed
part still under its staged name roll the commit forward themselves, and a
worker killed with steps pending leaves exactly that state. So on an object
store, where each step is a request, the unit hands them to this queue and goes
on encoding; the queue runs them in order, and ``drain`` (at the end of every
Beam bundle) waits for them and raises the first failure, failing the bundle.
On a local disk the steps are renames and run inline.

A unit's last commit joins the queue too (``UnitJob.run``): its two PUTs wait on
the store while the worker encodes the next unit. Steps run in the order they
were submitted, so a unit's stats are written after its commit and publishing.
A queued commit holds its chunk's vectors, so the queue is bounded: a worker that
has ``max_pending`` steps waiting blocks in ``submit`` until one is done, and its
memory stays bounded however slow the store is.
"""
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

DEFAULT_MAX_PENDING = 4


class Deferred:
    """A FIFO of after-commit steps: ``submit(fn, *args)``, then ``drain()``. ``inline`` runs each at once."""

    def __init__(self, inline: bool = False, *, max_pending: int = DEFAULT_MAX_PENDING):
        self._pool = None if inline else ThreadPoolExecutor(1, thread_name_prefix="mmfeat-after-commit",
                                                            initializer=self._mark_queue_thread)
        self._pending: list[Future] = []  # not yet drained: running, waiting, or finished with an error
        self._lock = threading.Lock()
        self._local = threading.local()
        self.max_pending = max_pending

    def _mark_queue_thread(self) -> None:
        self._local.is_queue = True

    @property
    def inline(self) -> bool:
        """Whether steps run at once, on the caller's thread."""
        return self._pool is None

    def submit(self, fn, *args) -> None:
        """Queue ``fn(*args)``. A caller other than the queue's own steps waits while ``max_pending`` steps
        are unfinished (a step that submits another never waits: it would wait for itself)."""
        if self._pool is None:
            fn(*args)
            return
        if not getattr(self._local, "is_queue", False):
            self._wait_below(self.max_pending)
        with self._lock:
            self._pending.append(self._pool.submit(fn, *args))

    def _wait_below(self, limit: int) -> None:
        while True:
            with self._lock:  # finished steps are forgotten, failed ones kept for drain to raise
                self._pending = [f for f in self._pending if not f.done() or f.exception() is not None]
                unfinished = [f for f in self._pending if not f.done()]
            if len(unfinished) < limit:
                return
            wait(unfinished, return_when=FIRST_COMPLETED)

    def drain(self) -> None:
        """Wait for every submitted step, and for the steps those submit; raise the first failure (after all
        have run)."""
        errors = []
        while True:
            with self._lock:
                pending, self._pending = self._pending, []
            if not pending:
                break
            errors += [f.exception() for f in pending]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first

    def close(self) -> None:
        try:
            self.drain()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None


INLINE = Deferred(inline=True)
