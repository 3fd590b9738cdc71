"""Group-aware splits, linear-probe baselines and model selection on held-out groups."""
import json

import numpy as np
import pytest

from mmfeat import FeatureStore
from mmfeat.errors import MmfeatError
from mmfeat.train.config import LabelsConfig, TrainConfig
from mmfeat.train.run import train
from mmfeat.train.splits import assign_split
from tests.conftest import write_jsonl
from tests.store_factory import put


def group_store(tmp_path, n=600, n_groups=30, test_from=20, seed=0):
    """Two modalities: ``a`` a noisy view of the label that works for everyone, ``b`` a per-group code
    of the label (a shortcut that only works for groups seen in training). Groups >= ``test_from`` are test."""
    rng = np.random.default_rng(seed)
    ids = [f"x{k}" for k in range(n)]
    g, y = rng.integers(0, n_groups, n), rng.integers(0, 3, n)
    a = (rng.normal(0, 1, (3, 6))[y] + rng.normal(0, 1.5, (n, 6))).astype(np.float32)
    b = (rng.normal(0, 1, (n_groups, 3, 8))[g, y] + rng.normal(0, 0.3, (n, 8))).astype(np.float32)
    store = FeatureStore(tmp_path / "store", create=True, n_buckets=4)
    put(store, "a", ids, a)
    put(store, "b", ids, b)
    write_jsonl(tmp_path / "labels.jsonl", [
        {"id": i, "label": f"c{c}", "person": f"g{gg}", "split": "test" if gg >= test_from else "train"}
        for i, c, gg in zip(ids, y, g)])
    return store


def run_config(tmp_path, group=True, **over):
    labels = {"path": str(tmp_path / "labels.jsonl"), "column": "label", "split_column": "split", "val": 0.25}
    if group:
        labels["group_column"] = "person"
    return TrainConfig.from_dict({"store": str(tmp_path / "store"), "features": ["a", "b"], "labels": labels,
                                  "out": str(tmp_path / f"run_{group}"), "epochs": 40, "patience": 8,
                                  "hidden": 16, **over})


def groups_by_split(ids, split, groups):
    return {s: set(groups[split == s].tolist()) for s in (0, 1, 2)}


@pytest.mark.parametrize("split_column", [None, "split"])
def test_no_group_lies_in_two_splits(split_column):
    rng = np.random.default_rng(3)
    ids = np.array([f"x{k}" for k in range(500)], dtype=object)
    groups = np.array([f"g{k}" for k in rng.integers(0, 25, 500)], dtype=object)
    values = ["test" if int(g[1:]) >= 18 else "train" for g in groups] if split_column else None
    cfg = LabelsConfig(path="labels.csv", column="y", split_column=split_column, group_column="person",
                       val=0.2, test=0.2)
    split = assign_split(ids, values, cfg, groups)
    per = groups_by_split(ids, split, groups)
    assert all(per[s] for s in (0, 1, 2))  # every split gets whole groups
    assert not (per[0] & per[1]) and not (per[0] & per[2]) and not (per[1] & per[2])
    # Without the group column the same ids are split by id, and groups straddle splits (the leak).
    plain = assign_split(ids, values, LabelsConfig(path="l", column="y", split_column=split_column, val=0.2,
                                                   test=0.2))
    per = groups_by_split(ids, plain, groups)
    assert per[0] & per[1]


def test_a_split_column_that_puts_a_group_in_two_splits_is_refused():
    cfg = LabelsConfig(path="labels.csv", column="y", split_column="split", group_column="person")
    groups = np.array(["p1", "p1", "p2", "p3"], dtype=object)
    with pytest.raises(MmfeatError, match=r"1 group\(s\) of 'person' lie in two splits .*'p1'"):
        assign_split(np.array(["a", "b", "c", "d"], dtype=object), ["train", "test", "train", "test"], cfg, groups)


def test_baselines_match_scikit_learn_fit_directly(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mmfeat.train.data import open_data

    group_store(tmp_path)
    cfg = run_config(tmp_path, epochs=2)
    metrics = train(cfg, progress=False)
    ds = open_data(cfg, FeatureStore(cfg.store))
    tr, te = ds.rows("train"), ds.rows("test")
    for name, x in (("probe:a", ds.x["a"]), ("probe:b", ds.x["b"]), ("probe:concat", np.hstack([ds.x["a"], ds.x["b"]]))):
        probe = metrics["baselines"][name]
        direct = make_pipeline(StandardScaler(), LogisticRegression(C=probe["C"], max_iter=2000)).fit(x[tr], ds.y[tr])
        assert probe["test"]["n"] == len(te)
        assert probe["test"]["accuracy"] == pytest.approx((direct.predict(x[te]) == ds.y[te]).mean(), abs=1e-9)
    # The product of the two unimodal probes, renormalised.
    logp = sum(make_pipeline(StandardScaler(), LogisticRegression(C=metrics["baselines"][f"probe:{n}"]["C"],
                                                                  max_iter=2000))
               .fit(ds.x[n][tr], ds.y[tr]).predict_log_proba(ds.x[n][te]) for n in ("a", "b"))
    assert metrics["baselines"]["probe:product"]["test"]["accuracy"] == pytest.approx(
        (logp.argmax(1) == ds.y[te]).mean(), abs=1e-9)


def test_metrics_json_carries_groups_baselines_selection_and_verdict(tmp_path):
    group_store(tmp_path, n=300)
    cfg = run_config(tmp_path, epochs=3, select={"hidden": [0, 8], "weight_decay": [1e-3], "dropout": [0.1],
                                                 "modality_dropout": [0.0], "folds": 3})
    train(cfg, progress=False)
    saved = json.loads((tmp_path / "run_True" / "metrics.json").read_text())
    counts = saved["counts"]
    assert counts["groups"]["test"] == 10 and counts["groups"]["train"] + counts["groups"]["val"] == 20
    assert counts["groups_in_two_splits"] == 0
    assert set(saved["baselines"]) == {"probe:a", "probe:b", "probe:concat", "probe:product"}
    assert all({"C", "val", "test"} <= set(v) for k, v in saved["baselines"].items() if k != "probe:product")
    selection = saved["selection"]
    assert selection["scoring"] == "group 3-fold cross-validation" and selection["group_aware"]
    assert [c["hidden"] for c in selection["candidates"]] == [0, 8]
    assert all({"accuracy", "nll", "n_held_out", "epochs"} <= set(c) for c in selection["candidates"])
    assert selection["chosen"]["hidden"] in (0, 8) and selection["refit_rows"] == counts["n_train"] + counts["n_val"]
    assert saved["val"]["rows"] == "held out during selection"
    assert set(saved["verdict"]) == {"metric", "fused", "best_baseline", "baseline", "margin", "beats"}
    assert {p.name for p in (tmp_path / "run_True" / "plots").iterdir()} == \
        {"learning_curves.png", "comparison.png", "subsets.png"}


@pytest.mark.slow
def test_group_aware_selection_beats_id_hash_validation_on_unseen_groups(tmp_path):
    """``b`` identifies the label only within a seen group. Validation rows that share groups with training
    reward leaning on it; validation on held-out groups does not, and that is what test groups look like."""
    group_store(tmp_path, n=1200)
    select = {"hidden": [0, 64], "weight_decay": [1e-4, 1e-1], "dropout": [0.0], "modality_dropout": [0.0, 0.5]}
    aware = train(run_config(tmp_path, group=True, hidden=64, epochs=60, select=select), progress=False)
    by_id = train(run_config(tmp_path, group=False, hidden=64, epochs=60, select=select), progress=False)
    assert aware["counts"]["groups_in_two_splits"] == 0
    assert aware["test"]["accuracy"] > by_id["test"]["accuracy"] + 0.04  # measured: 0.70 vs 0.62


def test_sequential_out_of_fold_uses_group_folds(tmp_path):
    group_store(tmp_path, n=300)
    metrics = train(run_config(tmp_path, mode="sequential", stages=["a", "b"], folds=3, epochs=3, baselines=False),
                    progress=False)
    assert all(s["group_folds"] and s["folds"] == 3 for s in metrics["sequential"]["stages"])
    from mmfeat.train.sequential import fold_of

    groups = np.array([f"g{k % 7}" for k in range(70)], dtype=object)
    fold = fold_of(70, 3, 0, groups)
    assert all(len(set(fold[groups == g])) == 1 for g in set(groups))


def test_probes_are_fit_once_per_data_and_refit_when_it_changes(tmp_path):
    from mmfeat.train import baselines
    from mmfeat.train.data import open_data

    group_store(tmp_path, n=300)
    cfg = run_config(tmp_path, epochs=2)
    ds = open_data(cfg, FeatureStore(cfg.store))
    baselines.FITTED.clear()
    first = baselines.linear_baselines(ds, ["a", "b"], "multiclass", 3)
    first["probe:a"]["C"] = "changed by the caller"  # callers get copies
    again = baselines.linear_baselines(ds, ["a", "b"], "multiclass", 3)
    assert again["probe:a"]["C"] != "changed by the caller" and len(baselines.FITTED) == 1
    fresh = baselines._linear_baselines(ds, ["a", "b"], "multiclass", 3)
    assert again == fresh
    ds.y[ds.rows("train")[:40]] = (ds.y[ds.rows("train")[:40]] + 1) % 3  # other labels: other probes
    changed = baselines.linear_baselines(ds, ["a", "b"], "multiclass", 3)
    assert changed == baselines._linear_baselines(ds, ["a", "b"], "multiclass", 3) and changed != fresh
