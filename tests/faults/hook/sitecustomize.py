"""Test-only fault hook: SIGKILL a run's whole process group at the k-th call of one function.

tests/faults puts this directory first on ``PYTHONPATH`` of the runs it kills, so
Python loads it as ``sitecustomize`` in the run and in every Beam worker process
the run starts. It does nothing unless ``MMFEAT_FAULT`` is set:

    MMFEAT_FAULT="module:attr.path:k:before|after"

wraps ``module.attr.path`` (a function, or a method as ``Class.method``); its
k-th call in one process kills the process group before or after the real call
runs. ``MMFEAT_FAULT_TEST_PGID`` (the test's own group) must differ from this
process's group, so the hook can never kill the test runner. Library code has no
hook of its own: nothing here runs outside these tests.
"""
import functools
import importlib
import itertools
import os
import signal


def _kill():
    if os.getpgrp() == int(os.environ["MMFEAT_FAULT_TEST_PGID"]):
        raise RuntimeError("fault hook: the run must be started in its own session (start_new_session=True)")
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _install(text: str) -> None:
    module_name, attr_path, k, when = text.split(":")
    k = int(k)
    owner = importlib.import_module(module_name)
    *parents, attr = attr_path.split(".")
    for name in parents:
        owner = getattr(owner, name)
    real = getattr(owner, attr)
    calls = itertools.count(1)

    @functools.wraps(real)
    def wrapper(*args, **kwargs):
        n = next(calls)  # this call's number (atomic): another thread's call may count on while this one runs
        if n == k and when == "before":
            _kill()
        result = real(*args, **kwargs)
        if n == k and when == "after":
            _kill()
        return result

    setattr(owner, attr, wrapper)


if os.environ.get("MMFEAT_FAULT"):
    _install(os.environ["MMFEAT_FAULT"])
