"""A run killed with SIGKILL mid-way keeps its committed buckets; a rerun finishes the job."""
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from mmfeat import FeatureStore
from tests.conftest import make_tiny_bert, sentences, write_jsonl, write_spec


def committed_buckets(set_dir):
    return sorted(p.parent.name for p in set_dir.glob("_log/bucket=*/00000001.json"))


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_leaves_every_id_exactly_once(tmp_path):
    # A model big enough that each bucket takes a noticeable time on 2 cores.
    model = make_tiny_bert(tmp_path / "model", hidden=256, layers=4)
    spec = write_spec(tmp_path / "spec.yaml", model, max_length=128)
    rows = [{"id": r["id"], "text": (r["text"] + " ") * 4} for r in sentences(3000)]
    manifest = write_jsonl(tmp_path / "m.jsonl", rows)
    store_dir, set_dir = tmp_path / "store", tmp_path / "store" / "tiny_text"
    cmd = [sys.executable, "-m", "mmfeat.cli", "extract", "--store", str(store_dir), "--input", str(manifest),
           "--feature", str(spec)]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not committed_buckets(set_dir) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = committed_buckets(set_dir)
    assert 1 <= len(done_before) < 16, "the run must be killed after some, but not all, buckets committed"
    rows_before = FeatureStore(store_dir).counts("tiny_text")["rows"]

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    store = FeatureStore(store_dir)
    ids = store.read("tiny_text")["id"].to_pylist()
    assert len(ids) == len(set(ids)) == 3000
    report = store.runs("tiny_text")[-1]
    assert report["n_skipped"] == rows_before and report["n_ok"] == 3000 - rows_before
    # A plain directory read (no mmfeat) sees exactly the committed rows, no leftovers of the killed run.
    plain = pd.read_parquet(set_dir / "data")
    assert len(plain) == 3000 and plain["id"].is_unique
