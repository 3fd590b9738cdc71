"""Steps that may finish after a unit's work, run on one background thread so the next unit can start.

Once a commit's log record exists the commit has happened: publishing its parts
(on an object store a HEAD, a server-side copy and a DELETE each), moving
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
"""
from concurrent.futures import Future, ThreadPoolExecutor


class Deferred:
    """A FIFO of after-commit steps: ``submit(fn, *args)``, then ``drain()``. ``inline`` runs each at once."""

    def __init__(self, inline: bool = False):
        self._pool = None if inline else ThreadPoolExecutor(1, thread_name_prefix="mmfeat-after-commit")
        self._pending: list[Future] = []

    @property
    def inline(self) -> bool:
        """Whether steps run at once, on the caller's thread."""
        return self._pool is None

    def submit(self, fn, *args) -> None:
        if self._pool is None:
            fn(*args)
            return
        self._pending.append(self._pool.submit(fn, *args))

    def drain(self) -> None:
        """Wait for every submitted step, and for the steps those submit; raise the first failure (after all
        have run)."""
        errors = []
        while self._pending:
            pending, self._pending = self._pending, []
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
