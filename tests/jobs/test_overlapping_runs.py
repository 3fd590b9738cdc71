"""Two real processes on one job: the second exits 4 naming the holder, waits with --wait, or takes over
the lock of a run killed with kill -9."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mmfeat import FeatureStore
from mmfeat.cli import main
from tests.jobs.job_factory import make_job
from tests.jobs.test_job_lock import holder
from tests.jobs.test_job_runner import last_report

pytestmark = pytest.mark.slow


def one_set_job(root: Path, model: Path) -> Path:
    job = make_job(root, model, train=False)
    raw = yaml.safe_load(job.read_text())
    raw["features"] = raw["features"][:1]
    job.write_text(yaml.safe_dump(raw))
    return job


def test_a_second_run_exits_4_naming_the_holder(tmp_path, tiny_bert, capsys):
    job = one_set_job(tmp_path, tiny_bert)
    first = holder(tmp_path / "store" / "_jobs" / "job" / "lock.json", 60.0)
    try:
        assert first.stdout.readline().strip() == "won"
        assert main(["run", str(job)]) == 4
        message = capsys.readouterr().err.strip()
        assert len(message.splitlines()) == 1
        assert "another run of this job holds the lock" in message and f"pid {first.pid} " in message
        assert not (tmp_path / "store" / "_jobs" / "job" / "runs").exists()  # the refused run did nothing
    finally:
        first.kill()
        first.wait()


def test_with_wait_the_second_run_starts_when_the_first_releases(tmp_path, tiny_bert):
    job = one_set_job(tmp_path, tiny_bert)
    first = holder(tmp_path / "store" / "_jobs" / "job" / "lock.json", 2.0)
    assert first.stdout.readline().strip() == "won"
    assert main(["run", str(job), "--wait", "60"]) == 0
    released_at = float(first.communicate(timeout=60)[0].split()[1])
    assert last_report(tmp_path)["started_at"] >= released_at


def test_the_lock_of_a_killed_run_is_taken_over_and_its_report_says_killed(tmp_path, tiny_bert):
    job = one_set_job(tmp_path, tiny_bert)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    victim = subprocess.Popen([sys.executable, "-m", "mmfeat.cli", "run", str(job)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = tmp_path / "store" / "_jobs" / "job" / "runs"
    deadline = time.monotonic() + 120
    while not list(runs.glob("*.json")) and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert victim.poll() is None, "the run ended before it could be killed"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    killed = last_report(tmp_path)
    assert killed["status"] == "running" and (runs.parent / "lock.json").exists()  # what kill -9 leaves

    assert main(["run", str(job)]) == 0
    report = last_report(tmp_path)
    assert report["status"] == "ok" and report["took_over_lock_of"]["pid"] == victim.pid
    old = json.loads((runs / f"{killed['run_id']}.json").read_text())
    assert old["status"] == "killed" and f"pid {victim.pid}" in old["error"]
    assert FeatureStore(tmp_path / "store").counts("tiny_a")["rows"] == 24
    assert not (runs.parent / "lock.json").exists()


def test_sigterm_ends_the_report_as_terminated_and_releases_the_lock(tmp_path, tiny_bert):
    job = one_set_job(tmp_path, tiny_bert)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.Popen([sys.executable, "-m", "mmfeat.cli", "run", str(job)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    runs = tmp_path / "store" / "_jobs" / "job" / "runs"
    deadline = time.monotonic() + 120
    while not list(runs.glob("*.json")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run.poll() is None, "the run ended before it could be stopped"
    run.terminate()  # what a scheduler's timeout or a pod's shutdown sends
    run.communicate(timeout=120)
    assert run.returncode == 128 + signal.SIGTERM
    report = last_report(tmp_path)
    assert report["status"] == "terminated" and "SystemExit" in report["error"]
    assert report["steps"][0]["status"] in ("running", "ok")
    assert not (runs.parent / "lock.json").exists()
