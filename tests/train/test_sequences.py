"""Chunk sequences as a training input: attention pooling finds what the stored mean dilutes."""
import numpy as np

from mmfeat import FeatureStore
from mmfeat.cli import main
from mmfeat.spec import FeatureSpec
from mmfeat.store.vectors import write_vectors
from mmfeat.train.config import TrainConfig
from mmfeat.train.inference import evaluate_run
from mmfeat.train.run import train
from tests.conftest import write_jsonl


def chunked_store(tmp_path, n=800, seed=0):
    """Sequences of 3–16 noise chunks; class 1 hides one marker chunk at a random position."""
    rng = np.random.default_rng(seed)
    ids = [f"s{k}" for k in range(n)]
    y = rng.integers(0, 2, n)
    marker = np.eye(8, dtype=np.float32)[0] * 4
    chunks = []
    for label in y:
        seq = rng.normal(0, 1, (int(rng.integers(3, 17)), 8)).astype(np.float32)
        if label:
            seq[rng.integers(0, len(seq))] += marker
        chunks.append(seq)
    store = FeatureStore(tmp_path / "store", create=True, n_buckets=4)
    spec = FeatureSpec.from_dict({"name": "long", "modality": "audio", "input": {"column": "audio"},
                                  "encoder": {"kind": "logmel", "chunk_seconds": 1.0, "keep_chunks": True}})
    write_vectors(store, spec, ids, np.stack([c.mean(axis=0) for c in chunks]), chunks=chunks)
    write_jsonl(tmp_path / "labels.jsonl", [{"id": i, "label": int(c)} for i, c in zip(ids, y)])
    return store


def run(tmp_path, out, **over):
    cfg = TrainConfig.from_dict({
        "store": str(tmp_path / "store"), "features": ["long"], "out": str(tmp_path / out), "baselines": False,
        "labels": {"path": str(tmp_path / "labels.jsonl"), "column": "label", "val": 0.15, "test": 0.25},
        "epochs": 150, "patience": 20, "hidden": 16, "dropout": 0.0, **over})
    return train(cfg, progress=False)


def test_attention_over_chunks_beats_the_stored_mean(tmp_path):
    chunked_store(tmp_path)
    pooled = run(tmp_path, "pooled")
    sequence = run(tmp_path, "sequence", sequences=["long"])
    assert sequence["test"]["accuracy"] > 0.9
    assert sequence["test"]["accuracy"] > pooled["test"]["accuracy"] + 0.1
    # The checkpoint rebuilds the attention branch: evaluation from disk matches, predictions are written.
    assert evaluate_run(tmp_path / "sequence")["test"] == sequence["test"]
    assert main(["predict", str(tmp_path / "sequence"), "--name", "p"]) == 0
    assert FeatureStore(tmp_path / "store").to_numpy("p")[1].shape == (800, 2)


def test_sequential_stage_over_chunks(tmp_path):
    chunked_store(tmp_path)
    metrics = run(tmp_path, "seq", mode="sequential", stages=["long"], sequences=["long"], folds=3)
    assert metrics["test"]["accuracy"] > 0.9
