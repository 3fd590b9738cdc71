"""Sequential stages stack in logit space: a later stage corrects the chain, it cannot drown it.

``a`` is a noisy 8-dimensional view of the label; ``b`` is 100 dimensions of which
four carry another view, each person's ``b`` shifted by a nuisance of their own. Stage 2
(``b``) sees stage 1's out-of-fold prediction. Fed as one more standardised input next
to 100 noisy ones (the behaviour before offset stages), dropout and weight decay treat
that prediction like the noise: stage 2 scored below stage 1 out of fold (0.557 vs
0.610) and the chain 0.667 on test, no better than ``b``'s probe alone (0.622) by much.
As an offset the chain keeps it and ``b`` adds what it knows (measured: 0.640 out of
fold, 0.726 on test). The concatenated linear probe is near the Bayes rule on Gaussian
views like these (0.796); the demo's README table compares with it on real features.
"""
import numpy as np
import pytest

from mmfeat import FeatureStore
from mmfeat.errors import SpecError
from mmfeat.train.config import TrainConfig
from mmfeat.train.inference import evaluate_run
from mmfeat.train.run import train
from tests.conftest import write_jsonl
from tests.store_factory import put


def shifted_store(tmp_path, n=600, n_groups=18, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"x{k}" for k in range(n)]
    g, y = rng.integers(0, n_groups, n), rng.integers(0, 4, n)
    a = (rng.normal(0, 1, (4, 8))[y] + rng.normal(0, 1.6, (n, 8))).astype(np.float32)
    b = rng.normal(0, 1, (n, 100)) + rng.normal(0, 0.8, (n_groups, 100))[g]
    b[:, :4] += rng.normal(0, 1, (4, 4))[y]
    store = FeatureStore(tmp_path / "store", create=True, n_buckets=2)
    put(store, "a", ids, a)
    put(store, "b", ids, b.astype(np.float32))
    write_jsonl(tmp_path / "labels.jsonl", [{"id": i, "label": f"c{c}", "person": f"p{gg}"}
                                            for i, c, gg in zip(ids, y, g)])


def test_a_later_stage_adds_to_the_chain_instead_of_drowning_it(tmp_path):
    shifted_store(tmp_path)
    cfg = TrainConfig.from_dict({
        "store": str(tmp_path / "store"), "features": ["a", "b"], "out": str(tmp_path / "run"),
        "labels": {"path": str(tmp_path / "labels.jsonl"), "column": "label", "group_column": "person",
                   "val": 0.2, "test": 0.3},
        "mode": "sequential", "stages": ["a", "b"], "folds": 3, "hidden": 32, "dropout": 0.5,
        "weight_decay": 0.01, "epochs": 60, "patience": 10})
    metrics = train(cfg, progress=False)
    first, second = metrics["sequential"]["stages"]
    assert second["train_accuracy"] > first["train_accuracy"]  # out of fold: b adds to a
    probes = metrics["baselines"]
    best_single = max(probes[f"probe:{m}"]["test"]["accuracy"] for m in ("a", "b"))
    assert metrics["test"]["accuracy"] > best_single + 0.05  # two views beat either one clearly
    assert evaluate_run(tmp_path / "run")["test"] == metrics["test"]  # the saved chain reproduces it


def test_select_scores_each_stage_out_of_fold_over_train_and_val(tmp_path):
    shifted_store(tmp_path, n=300)
    raw = {"store": str(tmp_path / "store"), "features": ["a", "b"], "out": str(tmp_path / "run"),
           "labels": {"path": str(tmp_path / "labels.jsonl"), "column": "label", "group_column": "person",
                      "val": 0.2, "test": 0.3},
           "mode": "sequential", "folds": 3, "epochs": 8, "patience": 3, "baselines": False, "stages": ["a", "b"],
           "select": {"hidden": [0, 8], "weight_decay": [0.01], "dropout": [0.0], "modality_dropout": [0.0, 0.3]}}
    metrics = train(TrainConfig.from_dict(raw), progress=False)
    counts, selection = metrics["counts"], metrics["selection"]
    assert [s["name"] for s in selection["stages"]] == ["a", "b"] and selection["group_aware"]
    for stage, record in zip(selection["stages"], metrics["sequential"]["stages"]):
        assert [c["hidden"] for c in stage["candidates"]] == [0, 8]  # modality dropout does not apply
        best = max(stage["candidates"], key=lambda c: (c["accuracy"], -c["nll"]))
        assert stage["chosen"]["hidden"] == best["hidden"] == record["params"]["hidden"]
        assert record["train_rows"] == counts["n_train"] + counts["n_val"]  # folds over train + val
    assert metrics["val"]["rows"].startswith("out-of-fold")
    assert evaluate_run(tmp_path / "run")["test"] == metrics["test"]
    for over, words in (({"select": {"folds": 3}}, "select.folds"), ({"select": {}, "oof": False}, "oof: true")):
        with pytest.raises(SpecError, match=words):
            TrainConfig.from_dict({**raw, **over})
