"""Training runs end to end on a real store: joint and sequential, masks, OOF vs in-sample, checkpoints."""
import json

import numpy as np
import yaml

from mmfeat import FeatureStore
from mmfeat.cli import main
from mmfeat.train.config import TrainConfig
from mmfeat.train.checkpoint import Checkpoint
from mmfeat.train.inference import evaluate_run
from mmfeat.train.run import train
from tests.conftest import write_jsonl
from tests.store_factory import put


def synthetic_store(tmp_path, n=600, seed=0):
    """Two modalities, each a noisy view of a 4-class label; ``b`` missing for a fifth of the ids."""
    rng = np.random.default_rng(seed)
    ids = [f"x{k}" for k in range(n)]
    y = rng.integers(0, 4, n)
    centers_a, centers_b = rng.normal(0, 1, (4, 8)), rng.normal(0, 1, (4, 6))
    a = (centers_a[y] + rng.normal(0, 1.3, (n, 8))).astype(np.float32)
    b = (centers_b[y] + rng.normal(0, 1.3, (n, 6))).astype(np.float32)
    store = FeatureStore(tmp_path / "store", create=True, n_buckets=4)
    put(store, "a", ids, a)
    has_b = [k for k in range(n) if k % 5]
    put(store, "b", [ids[k] for k in has_b], b[has_b])
    splits = ["test" if k % 5 == 1 else "train" for k in range(n)]  # no val: carved from train
    write_jsonl(tmp_path / "labels.jsonl", [{"id": i, "label": f"c{c}", "split": s}
                                            for i, c, s in zip(ids, y, splits)])
    return store


def config(tmp_path, **over):
    raw = {"store": str(tmp_path / "store"), "features": ["a", "b"], "out": str(tmp_path / "run"),
           "labels": {"path": str(tmp_path / "labels.jsonl"), "column": "label", "split_column": "split"},
           "epochs": 60, "patience": 10, "hidden": 16, **over}
    return TrainConfig.from_dict(raw)


def test_joint_run_writes_metrics_checkpoint_and_plots(tmp_path):
    synthetic_store(tmp_path)
    metrics = train(config(tmp_path, fusion="gated"), progress=False)
    assert metrics["counts"]["used"] == 600 and metrics["counts"]["n_val"] > 0  # val carved from train
    assert metrics["counts"]["present"] == {"a": 600, "b": 480}  # missing modality kept as a mask
    for part in ("val", "test"):
        assert {"accuracy", "macro_f1", "ece", "nll", "brier"} <= set(metrics[part])
    assert metrics["baselines"]["probe:b"]["val"]["n"] < metrics["val"]["n"]  # scored where b exists
    best_single = max(metrics["baselines"][f"probe:{m}"]["test"]["accuracy"] for m in ("a", "b"))
    assert metrics["test"]["accuracy"] > best_single  # two noisy views beat either one
    assert set(metrics["verdict"]) >= {"best_baseline", "margin", "beats"}
    assert set(metrics["subsets"]) == {"a", "b", "a+b"}
    run = tmp_path / "run"
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["test"] == metrics["test"]
    assert {p.name for p in (run / "plots").iterdir()} == {"learning_curves.png", "comparison.png", "subsets.png"}
    assert (run / "plots" / "comparison.png").read_bytes()[:4] == b"\x89PNG"

    # The checkpoint (safetensors + JSON, no pickle) reproduces the run's own test metrics exactly.
    again = evaluate_run(run)
    assert again["test"] == metrics["test"] and again["subsets"] == metrics["subsets"]
    ckpt = Checkpoint(run)
    assert ckpt.classes == ["c0", "c1", "c2", "c3"] and ckpt.meta["model"]["fusion"] == "gated"


def test_predictions_are_written_back_as_a_feature_set_with_lineage(tmp_path):
    store = synthetic_store(tmp_path)
    for mode in ("joint", "sequential"):
        train(config(tmp_path, mode=mode, out=str(tmp_path / mode), baselines=False, folds=3, epochs=20),
              progress=False)
        if mode == "sequential":  # the saved chain reproduces the run's own figures
            saved = json.loads((tmp_path / mode / "metrics.json").read_text())
            assert set(saved["subsets"]) == {"a", "b", "a+b"}
            assert evaluate_run(tmp_path / mode)["test"] == saved["test"]
        assert main(["predict", str(tmp_path / mode), "--name", f"pred_{mode}"]) == 0
        ids, probs = store.to_numpy(f"pred_{mode}")
        assert len(ids) == 600 and probs.shape == (600, 4)  # every id, even those missing modality b
        np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)
        info = store.info(f"pred_{mode}")
        assert info["modality"] == "derived"
        assert [i.split(":")[0] for i in info["spec"]["encoder"]["inputs"]] == ["a", "b"]
        assert info["model_identity"]["weights_sha256"] == Checkpoint(tmp_path / mode).weights_sha256
        assert info["model_identity"]["classes"] == ["c0", "c1", "c2", "c3"]  # the columns, shown by `show`
    # Re-predicting replaces the rows instead of adding copies.
    assert main(["predict", str(tmp_path / "joint"), "--name", "pred_joint"]) == 0
    assert len(store.to_numpy("pred_joint")[0]) == 600
    assert main(["predict", str(tmp_path / "joint"), "--name", "emb", "--output", "embedding"]) == 0
    assert store.to_numpy("emb")[1].shape == (600, 2 * 16)  # concat fusion of two 16-d branches


def test_complete_cases_drops_rows_missing_a_modality(tmp_path):
    synthetic_store(tmp_path)
    metrics = train(config(tmp_path, complete_cases=True, baselines=False, epochs=5), progress=False)
    assert metrics["counts"]["used"] == 480


def test_sequential_oof_does_not_leak_where_in_sample_does(tmp_path):
    """Stage 1 sees a high-dimensional modality of pure noise that it can memorise. In-sample, its
    predictions for the training rows are perfect (leaked labels); out-of-fold they are at chance,
    as they are on test rows."""
    rng = np.random.default_rng(1)
    n = 500
    ids = [f"x{k}" for k in range(n)]
    y = rng.integers(0, 3, n)
    noise = rng.normal(0, 1, (n, 3000)).astype(np.float32)
    signal = (rng.normal(0, 1, (3, 4))[y] + rng.normal(0, 0.8, (n, 4))).astype(np.float32)
    store = FeatureStore(tmp_path / "store", create=True, n_buckets=4)
    put(store, "noise", ids, noise)
    put(store, "signal", ids, signal)
    write_jsonl(tmp_path / "labels.jsonl", [{"id": i, "label": int(c)} for i, c in zip(ids, y)])
    results = {}
    for oof in (True, False):
        cfg = TrainConfig.from_dict({
            "store": str(tmp_path / "store"), "features": ["noise", "signal"], "out": str(tmp_path / f"run{oof}"),
            "labels": {"path": str(tmp_path / "labels.jsonl"), "column": "label", "val": 0.15, "test": 0.3},
            "mode": "sequential", "stages": ["noise", "signal"], "oof": oof, "folds": 4, "baselines": False,
            "epochs": 40, "patience": 40, "hidden": 128, "dropout": 0.0, "weight_decay": 0.0})
        results[oof] = train(cfg, progress=False)
    leaky, honest = results[False], results[True]
    assert leaky["sequential"]["stages"][0]["train_accuracy"] > 0.95  # memorised the noise (chance is 1/3)
    assert honest["sequential"]["stages"][0]["train_accuracy"] < 0.45  # out-of-fold: near chance, honestly
    # The noise carries no label information, so on val/test stage 1 is at chance either way: the
    # in-sample chain feeds stage 2 training inputs (100 % right) unlike anything it sees at test time.
    assert honest["test"]["accuracy"] >= leaky["test"]["accuracy"] - 0.02


def test_cli_train_and_config_errors(tmp_path, capsys):
    synthetic_store(tmp_path)
    run_yaml = tmp_path / "run.yaml"
    run_yaml.write_text(yaml.safe_dump({
        "store": "store", "features": ["a", "b"], "out": "cli_run", "task": "multiclass", "mode": "joint",
        "fusion": "lowrank", "labels": {"path": "labels.jsonl", "column": "label", "split_column": "split"},
        "epochs": 5, "baselines": False}))
    assert main(["train", str(run_yaml), "--quiet"]) == 0
    assert "joint (lowrank)" in capsys.readouterr().out
    assert json.loads((tmp_path / "cli_run" / "metrics.json").read_text())["joint"]["fusion"] == "lowrank"
    run_yaml.write_text(yaml.safe_dump({"store": "store", "features": ["a"], "out": "x", "fusion": "median",
                                        "labels": {"path": "labels.jsonl", "column": "label"}}))
    assert main(["train", str(run_yaml)]) == 1
    assert "fusion: unknown 'median'" in capsys.readouterr().err


def test_stream_loader_trains_from_buckets_without_loading_the_whole_set(tmp_path, monkeypatch):
    synthetic_store(tmp_path)
    memory = train(config(tmp_path, out=str(tmp_path / "mem"), baselines=False), progress=False)

    def no_full_join(*args, **kwargs):
        raise AssertionError("the stream loader must not materialise the whole join")

    monkeypatch.setattr(FeatureStore, "join", no_full_join)
    loaded = []
    original = FeatureStore.join_bucket
    monkeypatch.setattr(FeatureStore, "join_bucket",
                        lambda self, *a, **k: loaded.append(original(self, *a, **k).num_rows) or
                        original(self, *a, **k))
    stream = train(config(tmp_path, out=str(tmp_path / "stream"), baselines=False, loader="stream"), progress=False)
    assert stream["counts"]["loader"] == "stream"
    assert {k: stream["counts"][k] for k in ("used", "n_train", "n_val", "n_test")} == \
        {k: memory["counts"][k] for k in ("used", "n_train", "n_val", "n_test")}
    assert max(loaded) <= 600 // 4 * 2  # one bucket at a time (4 buckets of about 150 rows)
    assert abs(stream["test"]["accuracy"] - memory["test"]["accuracy"]) < 0.08
    assert evaluate_run(tmp_path / "stream")["test"] == stream["test"]
    assert main(["predict", str(tmp_path / "stream"), "--name", "p_stream"]) == 0
