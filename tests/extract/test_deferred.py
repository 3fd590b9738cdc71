"""After-commit steps: run in order on one thread, and a failure fails the bundle at drain."""
import threading
import time

import pytest

from mmfeat.extract.deferred import Deferred


def test_steps_run_in_submission_order_off_the_calling_thread_and_drain_waits_for_them():
    done, gate, threads = [], threading.Event(), set()

    def step(k):
        gate.wait(5)
        threads.add(threading.current_thread().name)
        done.append(k)

    deferred = Deferred(max_pending=10)
    for k in range(5):
        deferred.submit(step, k)
    assert done == []  # the caller went on while the steps wait
    gate.set()
    deferred.drain()
    assert done == [0, 1, 2, 3, 4]
    assert threads == {next(iter(threads))} and threading.current_thread().name not in threads
    deferred.close()


def test_drain_raises_the_first_failure_after_every_step_ran():
    done = []

    def fail(message):
        done.append(message)
        raise OSError(message)

    deferred = Deferred()
    deferred.submit(fail, "first")
    deferred.submit(done.append, "after")
    deferred.submit(fail, "second")
    with pytest.raises(OSError, match="first"):
        deferred.drain()
    assert done == ["first", "after", "second"]
    deferred.drain()  # nothing pending any more
    deferred.close()


def test_inline_runs_each_step_at_once():
    done = []
    deferred = Deferred(inline=True)
    deferred.submit(done.append, 1)
    assert done == [1]
    with pytest.raises(ValueError):
        deferred.submit(int, "x")


def test_drain_also_waits_for_steps_that_steps_submit():
    done, gate = [], threading.Event()
    deferred = Deferred()

    def commit():  # as a queued last commit submits its publishing
        gate.wait(5)
        deferred.submit(publish)

    def publish():
        time.sleep(0.2)  # still running when the step that submitted it has finished
        done.append("published")

    deferred.submit(commit)
    gate.set()
    deferred.drain()
    assert done == ["published"]
    deferred.close()


def test_a_caller_waits_while_max_pending_steps_are_unfinished_so_memory_stays_bounded():
    gate, running = threading.Event(), []
    deferred = Deferred(max_pending=2)
    deferred.submit(gate.wait, 5)
    deferred.submit(running.append, "second")
    third = threading.Thread(target=deferred.submit, args=(running.append, "third"))
    third.start()
    third.join(0.3)
    assert third.is_alive() and running == []  # blocked: two steps are unfinished
    gate.set()
    third.join(5)
    assert not third.is_alive()
    deferred.drain()
    assert running == ["second", "third"]
    deferred.close()


def test_a_failed_step_is_still_raised_by_drain_after_the_queue_pruned_finished_ones():
    def fail():
        raise OSError("the store refused")

    deferred = Deferred(max_pending=1)
    deferred.submit(fail)
    for _ in range(3):  # each submit waits for the one before and prunes finished steps
        deferred.submit(time.sleep, 0.01)
    with pytest.raises(OSError, match="refused"):
        deferred.drain()
    deferred.close()
