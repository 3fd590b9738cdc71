"""Training from a store on S3 (a local moto server), predicting back into it, and exporting from it."""
import json
import tarfile

import numpy as np
import yaml

from mmfeat import FeatureStore
from mmfeat.cli import main
from tests.conftest import write_jsonl
from tests.store_factory import put


def test_train_from_s3_predict_into_it_and_export_webdataset_from_it(tmp_path, s3):
    rng = np.random.default_rng(0)
    n, ids = 300, [f"x{k}" for k in range(300)]
    y = rng.integers(0, 3, n)
    store = FeatureStore(s3, create=True, n_buckets=4)
    put(store, "a", ids, (rng.normal(0, 1, (3, 8))[y] + rng.normal(0, 1, (n, 8))).astype(np.float32))
    put(store, "b", ids, (rng.normal(0, 1, (3, 6))[y] + rng.normal(0, 1, (n, 6))).astype(np.float32))
    labels = write_jsonl(tmp_path / "labels.jsonl", [{"id": i, "label": f"c{c}", "split": "test" if k % 5 == 1
                                                      else "train"} for k, (i, c) in enumerate(zip(ids, y))])
    run_yaml = tmp_path / "run.yaml"
    run_yaml.write_text(yaml.safe_dump({
        "store": s3, "features": ["a", "b"], "out": str(tmp_path / "run"), "epochs": 15, "hidden": 8,
        "labels": {"path": str(labels), "column": "label", "split_column": "split"}}))
    assert main(["train", str(run_yaml), "--quiet"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["counts"]["used"] == n and metrics["test"]["accuracy"] > 0.5

    assert main(["evaluate", str(tmp_path / "run")]) == 0
    assert main(["predict", str(tmp_path / "run"), "--name", "pred"]) == 0
    pred_ids, probs = FeatureStore(s3).to_numpy("pred")
    assert sorted(pred_ids) == sorted(ids) and probs.shape == (n, 3)
    assert main(["verify", "--store", s3, "pred"]) == 0

    out = tmp_path / "wds"
    assert main(["export-wds", "a", "pred", "--store", s3, "--out", str(out), "--labels", str(labels),
                 "--columns", "label"]) == 0
    members = [m for shard in sorted(out.glob("*.tar")) for m in tarfile.open(shard).getnames()]
    assert sum(m.endswith(".pred.npy") for m in members) == n and sum(m.endswith(".json") for m in members) == n
