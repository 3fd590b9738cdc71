"""Shared helpers of the fault-injection tests: killed runs, exactness checks."""
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd

from mmfeat import FeatureStore
from mmfeat.cli import main

HOOK = Path(__file__).resolve().parent / "hook"


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mmfeat.cli", *map(str, args)]


def killed_run(args: list[str], fault: str, *, timeout: float = 300) -> None:
    """Run ``mmfeat ARGS`` with the fault hook armed (``module:attr:k:before|after``); assert it was SIGKILLed.

    The run gets its own session, so the hook kills the run and every Beam worker it started, never pytest.
    """
    env = {**os.environ, "MMFEAT_FAULT": fault, "MMFEAT_FAULT_TEST_PGID": str(os.getpgrp()),
           "PYTHONPATH": os.pathsep.join([str(HOOK), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen(cli(*args), env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of the group is left, if anything
        except ProcessLookupError:
            pass
    assert proc.returncode == -signal.SIGKILL, f"the run was not killed at {fault} (exit {proc.returncode}):\n{out[-3000:]}"


def duplicated(ids) -> Counter:
    """The ids that occur more than once."""
    return Counter({i: n for i, n in Counter(ids).items() if n > 1})


def assert_exact(store_root: Path, name: str, ok_ids: set, error_ids: set = frozenset()) -> None:
    """Every id stored exactly once (mmfeat's reader and a plain directory read agree); verify is clean."""
    store = FeatureStore(store_root)
    ids = store.read(name, columns=["id"])["id"].to_pylist()
    assert not duplicated(ids), f"duplicated ids: {dict(list(duplicated(ids).items())[:5])}"
    assert set(ids) == set(ok_ids), f"lost {sorted(set(ok_ids) - set(ids))[:5]}, extra {sorted(set(ids) - set(ok_ids))[:5]}"
    plain = pd.read_parquet(str(store.set_dir(name) / "data"), columns=["id"])["id"]  # a path or an s3:// URL
    assert plain.is_unique and set(plain) == set(ok_ids), "a plain directory read disagrees with the store"
    if error_ids:
        errors = store.errors(name)["id"].to_pylist()
        assert not duplicated(errors) and set(errors) == set(error_ids), "error rows lost or duplicated"
    assert main(["verify", "--store", str(store_root), name]) == 0
