"""--sync: ids that left the input leave the store, in the same atomic commits, and are counted."""
import pandas as pd

from mmfeat import FeatureStore
from mmfeat.beam.extract_job import extract
from tests.conftest import sentences, write_jsonl


def test_sync_removes_ids_no_longer_in_the_input_and_their_errors(tmp_path, tiny_spec):
    rows = sentences(40) + [{"id": "bad", "text": ""}]
    extract(tiny_spec, tmp_path / "store", str(write_jsonl(tmp_path / "a.jsonl", rows)))
    kept = rows[:30]
    report = extract(tiny_spec, tmp_path / "store", str(write_jsonl(tmp_path / "b.jsonl", kept)), sync=True)
    assert report["sync"] == {"removed": 10, "absent": 11}  # 10 vectors and the error row of "bad"
    assert report["n_skipped"] == 30 and report["n_encoded"] == 0
    store = FeatureStore(tmp_path / "store")
    ids = sorted(store.read("tiny_text")["id"].to_pylist())
    assert ids == sorted(r["id"] for r in kept) and store.errors("tiny_text").num_rows == 0
    assert sorted(pd.read_parquet(store.set_dir("tiny_text") / "data")["id"]) == ids  # directory readers agree
    assert store.verify("tiny_text") == []
    again = extract(tiny_spec, tmp_path / "store", str(tmp_path / "b.jsonl"), sync=True)
    assert again["sync"] == {"removed": 0, "absent": 0}


def test_sync_removes_nothing_when_some_input_rows_cannot_be_read(tmp_path, tiny_spec):
    extract(tiny_spec, tmp_path / "store", str(write_jsonl(tmp_path / "a.jsonl", sentences(20))))
    broken = write_jsonl(tmp_path / "b.jsonl", [*sentences(10), "{this line is not json"])
    report = extract(tiny_spec, tmp_path / "store", str(broken), sync=True)
    assert report["sync"]["removed"] == 0 and "could not be read" in report["sync"]["skipped"]
    assert FeatureStore(tmp_path / "store").read("tiny_text").num_rows == 20
