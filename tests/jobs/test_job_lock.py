"""The per-job lock: exclusive, stale locks of dead processes taken over once, a heartbeat, real processes."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmfeat.jobs.lock import LockHeldError, acquire

HOLDER = str(Path(__file__).with_name("lock_holder.py"))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_lock(path: Path, **fields) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"token": "old", "host": socket.gethostname(), "pid": os.getpid(),
                                "run_id": "r0", "started_at": 0, **fields}))


def holder(lock: Path, hold_s: float, wait_s: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, HOLDER, str(lock), str(hold_s), str(wait_s)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


def test_a_held_lock_refuses_a_second_taker_and_names_the_holder(tmp_path):
    path = tmp_path / "lock.json"
    with acquire(path, run_id="first") as lock:
        with pytest.raises(LockHeldError) as info:
            acquire(path, run_id="second")
        assert f"pid {os.getpid()}" in str(info.value) and socket.gethostname() in str(info.value)
        assert "run first" in str(info.value) and lock.taken_over is None
    assert not path.exists()  # released
    acquire(path, run_id="third").release()


def test_the_lock_of_a_dead_process_on_this_host_is_taken_over(tmp_path):
    path = tmp_path / "lock.json"
    write_lock(path, pid=dead_pid())
    with acquire(path, run_id="new") as lock:
        assert lock.taken_over["token"] == "old"
        assert json.loads(path.read_text())["run_id"] == "new"
    assert not list(tmp_path.iterdir())  # no marker or moved-aside lock left behind


def test_another_hosts_lock_is_stale_only_when_its_heartbeat_is_old(tmp_path):
    path = tmp_path / "lock.json"
    write_lock(path, host="some-other-host", pid=1)
    with pytest.raises(LockHeldError, match="host some-other-host pid 1"):
        acquire(path, run_id="new", stale_after_s=60)
    old = time.time() - 120
    os.utime(path, (old, old))
    with acquire(path, run_id="new", stale_after_s=60) as lock:
        assert lock.taken_over["host"] == "some-other-host"


def test_the_heartbeat_keeps_the_lock_fresh_and_notices_a_takeover(tmp_path):
    path = tmp_path / "lock.json"
    lock = acquire(path, run_id="r", heartbeat_s=0.05)
    old = time.time() - 1000
    os.utime(path, (old, old))
    time.sleep(0.5)
    assert time.time() - path.stat().st_mtime < 100  # refreshed
    write_lock(path, token="someone-else")
    time.sleep(0.5)
    assert lock.lost
    lock.release()
    assert json.loads(path.read_text())["token"] == "someone-else"  # not ours: left alone


@pytest.mark.slow
def test_racing_takers_of_a_stale_lock_exactly_one_wins(tmp_path):
    path = tmp_path / "lock.json"
    write_lock(path, pid=dead_pid())
    procs = [holder(path, 3.0) for _ in range(4)]
    outs = [p.communicate(timeout=60)[0].split()[0] for p in procs]
    assert sorted(outs) == ["lost", "lost", "lost", "won"]


@pytest.mark.slow
def test_a_waiting_taker_gets_the_lock_when_the_holder_releases(tmp_path):
    path = tmp_path / "lock.json"
    first = holder(path, 2.0)
    assert first.stdout.readline().strip() == "won"
    second = holder(path, 0.0, wait_s=60)
    out_second = second.communicate(timeout=60)[0]
    released_at = float(first.communicate(timeout=60)[0].split()[1])
    assert out_second.startswith("won") and first.returncode == 0 and second.returncode == 0
    assert float(out_second.split()[-1]) > released_at
