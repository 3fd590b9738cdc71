"""``mmfeat export-wds``: shards that plain webdataset and a torch DataLoader read back exactly."""
import json

import numpy as np
import pytest
import torch
import webdataset as wds

from mmfeat import FeatureStore
from mmfeat.cli import main
from mmfeat.export.wds import sample_key
from tests.conftest import write_jsonl
from tests.store_factory import put


@pytest.fixture
def store(tmp_path):
    store = FeatureStore(tmp_path / "store", create=True, n_buckets=4)
    rng = np.random.default_rng(0)
    ids = [f"item.{k}/x" if k % 10 == 0 else f"item{k}" for k in range(50)]
    put(store, "img", ids, rng.random((50, 16), dtype=np.float32))
    put(store, "aud", ids[:40], rng.random((40, 9), dtype=np.float32))
    write_jsonl(tmp_path / "labels.jsonl", [{"id": i, "label": k % 3, "split": "train"} for k, i in enumerate(ids)])
    return store


def test_round_trip_through_webdataset_and_a_dataloader(tmp_path, store):
    code = main(["export-wds", "img,aud", "--store", str(store.root), "--out", str(tmp_path / "wds"),
                 "--labels", str(tmp_path / "labels.jsonl"), "--columns", "label", "--maxcount", "15"])
    assert code == 0
    index = json.loads((tmp_path / "wds" / "index.json").read_text())
    assert index["n_samples"] == 40 and [s["samples"] for s in index["shards"]] == [15, 15, 10]
    assert sorted(p.name for p in (tmp_path / "wds").iterdir()) == [
        "index.json", "shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]

    urls = str(tmp_path / "wds" / "shard-{000000..000002}.tar")
    dataset = wds.WebDataset(urls, shardshuffle=False).decode().to_tuple("img.npy", "aud.npy", "json")
    loader = torch.utils.data.DataLoader(dataset, batch_size=8)
    seen = {}
    for img, aud, meta in loader:
        assert img.dtype == torch.float32 and img.shape[1:] == (16,) and aud.shape[1:] == (9,)
        for k, id_ in enumerate(meta["id"]):
            seen[id_] = (img[k].numpy(), aud[k].numpy(), int(meta["label"][k]))
    joined = store.join(["img", "aud"])
    assert sorted(seen) == sorted(joined["id"].to_pylist())
    for row in joined.to_pylist():
        np.testing.assert_array_equal(seen[row["id"]][0], np.asarray(row["img"], np.float32))
        np.testing.assert_array_equal(seen[row["id"]][1], np.asarray(row["aud"], np.float32))


def test_outer_join_leaves_missing_modalities_out(tmp_path, store):
    from mmfeat.export.wds import export_wds

    export_wds(store, ["img", "aud"], tmp_path / "out", how="outer")
    samples = list(wds.WebDataset(str(tmp_path / "out" / "shard-000000.tar"), shardshuffle=False).decode())
    assert len(samples) == 50
    assert sum("aud.npy" in s for s in samples) == 40 and all("img.npy" in s for s in samples)


def test_keys_are_tar_safe_and_unique():
    assert sample_key("abc_1-2") == "abc_1-2"
    keys = {sample_key(i) for i in ("a.b", "a_b", "a/b", "a b")}
    assert len(keys) == 4 and all("." not in k and "/" not in k for k in keys)


def test_refuses_a_non_empty_output_directory(tmp_path, store):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    assert main(["export-wds", "img", "--store", str(store.root), "--out", str(tmp_path / "out")]) == 1
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"
