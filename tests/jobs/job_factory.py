"""Write a small job directory: two tiny-BERT text feature sets, labels, a train config and the job file."""
from pathlib import Path

import yaml

from tests.conftest import sentences, write_jsonl, write_spec


def labelled(n: int, offset: int = 0) -> list[dict]:
    """``sentences`` with a two-class label and a train/test split column."""
    return [{**row, "label": f"c{k % 2}", "split": "test" if k % 5 == 0 else "train"}
            for k, row in enumerate(sentences(n, offset), offset)]


def make_job(root: Path, model: Path, *, n: int = 24, train: bool = True, **job_over) -> Path:
    """``root/job.yaml`` extracting ``tiny_a`` and ``tiny_b`` from ``root/data/texts.jsonl``,
    then (``train``) a fusion model and its predictions ``fusion_probs``. Returns the job file."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    write_jsonl(root / "data" / "texts.jsonl", labelled(n))
    write_spec(root / "tiny_a.yaml", model, name="tiny_a", pooling="mean")
    write_spec(root / "tiny_b.yaml", model, name="tiny_b", pooling="cls")
    job = {"store": "store", "buckets": 2,
           "features": [{"feature": "tiny_a.yaml", "inputs": ["data/texts.jsonl"], "slots": 1},
                        {"feature": "tiny_b.yaml", "inputs": ["data/texts.jsonl"], "slots": 1}]}
    if train:
        (root / "train.yaml").write_text(yaml.safe_dump({
            "store": "elsewhere", "features": ["tiny_a", "tiny_b"], "out": "runs/fusion",
            "labels": {"path": "data/texts.jsonl", "column": "label", "split_column": "split"},
            "epochs": 2, "patience": 2, "hidden": 8, "baselines": False}))
        job["train"] = [{"config": "train.yaml", "name": "fusion"}]
        job["predict"] = [{"train": "fusion", "name": "fusion_probs"}]
    job.update(job_over)
    path = root / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return path
