"""Runs pin the store versions they trained on: evaluate and predict read them again, --latest reads now.

The issue's case: after training, the texts of 12 test ids change and are
re-extracted. ``mmfeat evaluate`` used to report the new figure silently; now
it reproduces the training figure by default, and ``--latest`` reports the new
one with a warning naming the set and its versions.
"""
import json

import pytest

from mmfeat.cli import main
from mmfeat.store import FeatureStore
from mmfeat.train.run import train
from tests.conftest import write_jsonl

pytestmark = pytest.mark.slow

WORDS = {"a": "apple orange banana cherry grape melon".split(), "b": "engine wheel brake piston gear clutch".split()}


def text(label: str, k: int) -> str:
    words = WORDS[label]
    return " ".join(words[(k + j) % len(words)] for j in range(4 + k % 5))


@pytest.fixture
def trained(tmp_path, tiny_spec, capsys):
    """A text set extracted through the CLI, and a run trained on it (test: 16 ids)."""
    n = 80
    labels = ["a" if k % 2 else "b" for k in range(n)]
    rows = [{"id": f"t{k}", "text": text(label, k)} for k, label in enumerate(labels)]
    write_jsonl(tmp_path / "m.jsonl", rows)
    write_jsonl(tmp_path / "labels.jsonl", [{"id": r["id"], "label": label, "split": "test" if k < 16 else "train"}
                                            for k, (r, label) in enumerate(zip(rows, labels))])
    store = str(tmp_path / "store")
    extract = ["extract", "--store", store, "--input", str(tmp_path / "m.jsonl"), "--feature", str(tiny_spec),
               "--buckets", "4"]
    assert main(extract) == 0
    config = {"store": store, "features": ["tiny_text"], "out": str(tmp_path / "run"), "epochs": 40,
              "patience": 10, "hidden": 16, "baselines": False,
              "labels": {"path": str(tmp_path / "labels.jsonl"), "column": "label", "split_column": "split"}}
    (tmp_path / "run.yaml").write_text(json.dumps(config))
    assert main(["train", str(tmp_path / "run.yaml"), "--quiet"]) == 0
    capsys.readouterr()
    return {"rows": rows, "labels": labels, "extract": extract, "run": str(tmp_path / "run"), "store": store}


def change_test_texts(tmp_path, trained, n=12):
    """Give the first ``n`` test ids a text of the other class and re-extract them."""
    rows = [dict(r) for r in trained["rows"]]
    for k in range(n):
        other = "b" if trained["labels"][k] == "a" else "a"
        rows[k]["text"] = text(other, k + 1)
    write_jsonl(tmp_path / "m.jsonl", rows)
    assert main(trained["extract"]) == 0


def accuracy(out: str) -> float:
    """Test accuracy from the table ``mmfeat evaluate`` prints (its ``model`` line)."""
    line = next(line for line in out.splitlines() if line.startswith("model "))
    return float(line.split()[2])


def test_the_run_records_the_versions_it_read(trained):
    metrics = json.loads((FeatureStore(trained["store"]).root.parent / "run" / "metrics.json").read_text())
    store = FeatureStore(trained["store"])
    assert metrics["snapshot"]["sets"]["tiny_text"] == store.version("tiny_text").to_dict()
    assert metrics["snapshot"]["version"] == store.version("tiny_text").version > 0


def test_evaluate_reads_as_of_training_and_warns_with_latest(tmp_path, trained, capsys):
    trained_acc = json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]["accuracy"]
    assert main(["evaluate", trained["run"]]) == 0
    out = capsys.readouterr()
    assert accuracy(out.out) == pytest.approx(trained_acc, abs=5e-4) and "warning" not in out.err
    before = FeatureStore(trained["store"]).version("tiny_text")
    change_test_texts(tmp_path, trained)
    after = FeatureStore(trained["store"]).version("tiny_text")
    capsys.readouterr()

    # Default: the training-time versions, the training figure, and a line saying the data moved on.
    assert main(["evaluate", trained["run"]]) == 0
    out = capsys.readouterr()
    assert accuracy(out.out) == pytest.approx(trained_acc, abs=5e-4)
    assert json.loads((tmp_path / "run" / "evaluation.json").read_text())["data"]["as_of"] == "training"
    assert f"tiny_text version {before.version}" in out.err and f"-> {after.version}" in out.err
    assert "training-time versions were used" in out.err

    # --latest: today's data, another figure, and a warning naming the set and both versions.
    assert main(["evaluate", trained["run"], "--latest"]) == 0
    out = capsys.readouterr()
    latest_acc = accuracy(out.out)
    assert latest_acc < trained_acc  # 12 of 16 test texts now read like the other class
    assert out.err.startswith("mmfeat: warning: the data changed since training: tiny_text version "
                              f"{before.version}") and "current data was used (--latest)" in out.err
    evaluation = json.loads((tmp_path / "run" / "evaluation.json").read_text())
    assert evaluation["data"]["snapshot"]["sets"]["tiny_text"]["version"] == after.version


def test_predict_writes_training_time_predictions_unless_latest(tmp_path, trained, capsys):
    change_test_texts(tmp_path, trained)
    store = FeatureStore(trained["store"])
    assert main(["predict", trained["run"], "--name", "pinned"]) == 0
    assert "training-time versions were used" in capsys.readouterr().err
    assert main(["predict", trained["run"], "--name", "latest", "--latest"]) == 0
    assert "current data was used" in capsys.readouterr().err
    pinned, latest = (dict(zip(*store.to_numpy(n))) for n in ("pinned", "latest"))
    changed = {r["id"] for r in trained["rows"][:12]}
    assert pinned.keys() == latest.keys() == {r["id"] for r in trained["rows"]}
    differs = {i for i in pinned if abs(pinned[i] - latest[i]).max() > 1e-6}
    assert differs == changed


def test_evaluate_after_vacuum_says_time_travel_ended_and_latest_still_works(tmp_path, trained, capsys):
    change_test_texts(tmp_path, trained)
    capsys.readouterr()
    assert main(["vacuum", "tiny_text", "--store", trained["store"], "--older-than", "0s"]) == 0
    assert main(["evaluate", trained["run"]]) == 1
    err = capsys.readouterr().err
    assert "can no longer be read: `mmfeat vacuum` deleted this part" in err and "oldest readable version" in err
    assert "--latest" in err
    assert main(["evaluate", trained["run"], "--latest"]) == 0


def test_a_run_without_recorded_versions_reads_the_latest_data_and_says_so(tmp_path, capsys):
    from tests.train.test_train_run import config, synthetic_store

    synthetic_store(tmp_path, n=200)
    train(config(tmp_path, epochs=5, baselines=False), progress=False)
    metrics_file = tmp_path / "run" / "metrics.json"
    metrics = json.loads(metrics_file.read_text())
    assert set(metrics["snapshot"]["sets"]) == {"a", "b"}
    metrics_file.write_text(json.dumps({k: v for k, v in metrics.items() if k != "snapshot"}))
    assert main(["evaluate", str(tmp_path / "run")]) == 0
    assert "the run predates store snapshots" in capsys.readouterr().err


def test_a_store_with_fewer_commits_than_at_training_is_refused_unless_latest(tmp_path, capsys):
    from tests.train.test_train_run import config, synthetic_store

    synthetic_store(tmp_path, n=200)
    synthetic_store(tmp_path, n=200)  # the same rows committed again: every bucket at version 2
    train(config(tmp_path, epochs=5, baselines=False), progress=False)
    other = tmp_path / "other"
    other.mkdir()
    synthetic_store(other, n=200)  # the same sets in another store, at version 1
    assert main(["evaluate", str(tmp_path / "run"), "--store", str(other / "store")]) == 1
    err = capsys.readouterr().err
    assert "fewer commits than when" in err and "--latest" in err
    assert main(["evaluate", str(tmp_path / "run"), "--store", str(other / "store"), "--latest"]) == 0
