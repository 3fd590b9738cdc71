"""The same extraction on a real Dask cluster: a scheduler and two worker processes on 127.0.0.1."""
import json

import pytest

from mmfeat import FeatureStore
from mmfeat.cli import main
from tests.conftest import sentences, write_jsonl

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed", reason="pip install 'mmfeat[dask]'")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, worker_dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def run_cli(args, capsys) -> tuple[int, dict]:
    code = main(args)
    out = capsys.readouterr().out
    return code, json.loads(out[out.index("{"):])


def test_dask_runner_stores_every_row_once_both_workers_encode_and_a_rerun_skips(tmp_path, tiny_spec, dask_cluster,
                                                                               capsys):
    for k in range(4):
        write_jsonl(tmp_path / f"m{k}.jsonl", sentences(60, offset=60 * k))
    args = ["extract", "--store", str(tmp_path / "store"), "--input", str(tmp_path / "m*.jsonl"),
            "--feature", str(tiny_spec), "--runner=DaskRunner", f"--dask_client_address={dask_cluster}"]
    code, first = run_cli(args, capsys)
    assert code == 0 and (first["n_ok"], first["n_error"]) == (240, 0)
    store = FeatureStore(tmp_path / "store")
    ids = store.read("tiny_text")["id"].to_pylist()
    assert len(ids) == len(set(ids)) == 240
    [report] = store.runs("tiny_text")
    assert report["beam_counters"] is None and report["rows_read"] == 240  # counted from the readers' files
    workers = report["encoded_by_worker"]
    assert len(workers) == 2 and sum(workers.values()) == 240, workers  # both worker processes encoded

    code, again = run_cli(args, capsys)
    assert code == 0 and (again["n_ok"], again["n_skipped"], again["n_encoded"]) == (0, 240, 0)
