"""kill -9 of `mmfeat predict` while it writes predictions back bucket by bucket; a rerun is exact."""
import numpy as np
import pytest

from mmfeat import FeatureStore
from mmfeat.cli import main
from mmfeat.train.config import TrainConfig
from mmfeat.train.run import train
from tests.conftest import write_jsonl
from tests.faults.harness import assert_exact, killed_run
from tests.store_factory import put

pytestmark = pytest.mark.slow

N = 200
POINTS = [
    ("after 2 of 4 buckets committed", "mmfeat.train.inference:replace_bucket:2:after"),
    ("3rd bucket's part staged, not committed", "mmfeat.store.vectors:write_part:3:after"),
    ("1st bucket's record written, part unpublished", "mmfeat.store.bucket_log:create_exclusive_json:1:after"),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 4-bucket store with two small feature sets (b missing for a fifth of the ids) and a trained run."""
    root = tmp_path_factory.mktemp("predict")
    rng = np.random.default_rng(0)
    ids = [f"x{k}" for k in range(N)]
    y = rng.integers(0, 3, N)
    store = FeatureStore(root / "store", create=True, n_buckets=4)
    put(store, "a", ids, (rng.normal(0, 1, (3, 6))[y] + rng.normal(0, 1, (N, 6))).astype(np.float32))
    has_b = [k for k in range(N) if k % 5]
    put(store, "b", [ids[k] for k in has_b], rng.normal(0, 1, (len(has_b), 4)).astype(np.float32))
    write_jsonl(root / "labels.jsonl", [{"id": i, "label": f"c{c}"} for i, c in zip(ids, y)])
    cfg = TrainConfig.from_dict({"store": str(root / "store"), "features": ["a", "b"], "out": str(root / "run"),
                                 "labels": {"path": str(root / "labels.jsonl"), "column": "label"},
                                 "epochs": 2, "hidden": 8, "baselines": False})
    train(cfg, progress=False)
    return root, set(ids)


@pytest.mark.parametrize("fault", [p[1] for p in POINTS], ids=[p[0] for p in POINTS])
def test_kill_9_predict_then_rerun_is_exact(trained, fault):
    root, ids = trained
    store, name = root / "store", f"pred_{abs(hash(fault)) % 10**8}"
    args = ["predict", str(root / "run"), "--name", name]
    killed_run(args, fault)
    assert main(["verify", "--store", str(store), name]) == 0
    assert main(args) == 0
    assert_exact(store, name, ids)
    _, probs = FeatureStore(store).to_numpy(name)
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
