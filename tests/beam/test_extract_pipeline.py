"""End-to-end DirectRunner runs of the extraction pipeline with a tiny BERT."""
import numpy as np
import pytest

from mmfeat import FeatureStore
from mmfeat.beam.extract_job import extract
from mmfeat.errors import FingerprintMismatchError
from mmfeat.spec import load_spec
from tests.conftest import sentences, write_jsonl, write_spec


def vectors_by_id(store, name):
    ids, vectors = store.to_numpy(name)
    return dict(zip(ids, vectors))


def test_bad_input_becomes_error_rows_and_every_row_is_accounted(tmp_path, tiny_spec):
    good = sentences(20)
    rows = good + [
        {"id": "empty", "text": "   "},
        {"id": "null", "text": None},
        {"id": "number", "text": 42},
        {"id": "long", "text": "word " * 200},  # over max_length=64 tokens
        "{not json",
        {"text": "no id here"},
        {"id": "notext"},
        {"id": "twin", "text": "first version"},
        {"id": "twin", "text": "second version"},
        {"id": "same", "text": "repeated row"},
        {"id": "same", "text": "repeated row"},
    ]
    manifest = write_jsonl(tmp_path / "m.jsonl", rows)
    report = extract(tiny_spec, tmp_path / "store", str(manifest))

    assert report["n_input"] == len(rows)
    assert report["n_ok"] + report["n_error"] + report["n_skipped"] == report["n_input"]
    assert (report["n_ok"], report["n_error"], report["n_skipped"]) == (21, 9, 1)
    store = FeatureStore(tmp_path / "store")
    assert sorted(store.read("tiny_text")["id"].to_pylist()) == sorted([r["id"] for r in good] + ["same"])
    errors = {(e["id"], e["stage"]): e for e in store.errors("tiny_text").to_pylist()}
    expected = {
        ("empty", "validate"): "empty", ("null", "validate"): "missing", ("number", "validate"): "not a string",
        ("long", "preprocess"): "max_length", (f"{manifest}:{len(good) + 5}", "read"): "bad JSON",
        (f"{manifest}:{len(good) + 6}", "read"): "missing id", ("notext", "read"): "missing field",
        ("twin", "dedup"): "different content",
    }
    for key, fragment in expected.items():
        assert fragment in errors[key]["reason"], (key, errors[key])
    assert errors[("twin", "dedup")]["line"] in (len(good) + 8, len(good) + 9)
    assert report["beam_counters"]["rows_read"] == len(rows)


def test_rerun_of_unchanged_corpus_does_no_forward_pass(tmp_path, tiny_spec):
    manifest = write_jsonl(tmp_path / "m.jsonl", sentences(60))
    first = extract(tiny_spec, tmp_path / "store", str(manifest))
    before = vectors_by_id(FeatureStore(tmp_path / "store"), "tiny_text")
    second = extract(tiny_spec, tmp_path / "store", str(manifest))

    assert first["n_encoded"] == 60 and first["beam_counters"]["forward_batches"] > 0
    assert second["n_encoded"] == 0 and second["beam_counters"].get("forward_batches", 0) == 0
    assert (second["n_ok"], second["n_skipped"]) == (0, 60)
    after = vectors_by_id(FeatureStore(tmp_path / "store"), "tiny_text")
    assert before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)


def test_incremental_add_encodes_only_new_ids_and_changed_content_replaces(tmp_path, tiny_spec):
    store_dir = tmp_path / "store"
    extract(tiny_spec, store_dir, str(write_jsonl(tmp_path / "a.jsonl", sentences(40))))
    old = vectors_by_id(FeatureStore(store_dir), "tiny_text")
    rows = sentences(50)
    rows[3] = {"id": "s3", "text": "an entirely different sentence about the sea"}
    report = extract(tiny_spec, store_dir, str(write_jsonl(tmp_path / "b.jsonl", rows)))

    assert (report["n_encoded"], report["n_skipped"]) == (11, 39)
    store = FeatureStore(store_dir)
    ids = store.read("tiny_text")["id"].to_pylist()
    assert len(ids) == len(set(ids)) == 50
    new = vectors_by_id(store, "tiny_text")
    assert not np.allclose(new["s3"], old["s3"])
    assert np.array_equal(new["s7"], old["s7"])


def test_identical_contents_are_encoded_once_within_and_across_runs(tmp_path, tiny_spec):
    rows = [{"id": f"copy{i}", "text": "the same sentence every time"} for i in range(12)]
    # Content dedup is exact within a unit (bucket x slot): one bucket of one slot holds every id here.
    report = extract(tiny_spec, tmp_path / "store", str(write_jsonl(tmp_path / "m.jsonl", rows)), n_buckets=1,
                     n_slots=1)
    assert (report["n_ok"], report["n_encoded"], report["n_reused"]) == (12, 1, 11)
    later = extract(tiny_spec, tmp_path / "store",
                    str(write_jsonl(tmp_path / "n.jsonl", [{"id": "late", "text": "the same sentence every time"}])),
                    n_slots=1)
    assert (later["n_ok"], later["n_encoded"]) == (1, 0)
    vectors = vectors_by_id(FeatureStore(tmp_path / "store"), "tiny_text")
    assert all(np.array_equal(v, vectors["late"]) for v in vectors.values())


def test_vectors_match_the_model_run_directly(tmp_path, tiny_bert, tiny_spec):
    import torch
    from transformers import AutoModel, AutoTokenizer

    rows = sentences(30)
    extract(tiny_spec, tmp_path / "store", str(write_jsonl(tmp_path / "m.jsonl", rows)))
    got = vectors_by_id(FeatureStore(tmp_path / "store"), "tiny_text")
    tok, model = AutoTokenizer.from_pretrained(tiny_bert), AutoModel.from_pretrained(tiny_bert).eval()
    for row in rows:  # one text at a time: no padding at all
        enc = tok(row["text"], return_tensors="pt")
        with torch.no_grad():
            ref = model(**enc).last_hidden_state.mean(1)[0]
        ref = (ref / ref.norm()).numpy()
        assert float(np.dot(ref, got[row["id"]])) > 0.9999


def test_csv_parquet_and_glob_inputs(tmp_path, tiny_spec):
    import pandas as pd

    rows = sentences(30)
    pd.DataFrame(rows[:10]).to_csv(tmp_path / "part1.csv", index=False)
    pd.DataFrame(rows[10:20]).to_parquet(tmp_path / "part2.parquet")
    write_jsonl(tmp_path / "part3.jsonl", rows[20:])
    report = extract(tiny_spec, tmp_path / "store", str(tmp_path / "part*"))
    assert report["n_ok"] == 30
    assert sorted(FeatureStore(tmp_path / "store").read("tiny_text")["id"].to_pylist()) == sorted(
        r["id"] for r in rows)


def test_changed_spec_under_same_name_is_refused(tmp_path, tiny_bert):
    manifest = str(write_jsonl(tmp_path / "m.jsonl", sentences(5)))
    extract(write_spec(tmp_path / "a.yaml", tiny_bert), tmp_path / "store", manifest)
    with pytest.raises(FingerprintMismatchError, match="tiny_text"):
        extract(write_spec(tmp_path / "b.yaml", tiny_bert, pooling="cls"), tmp_path / "store", manifest)
    # Batching does not change the vectors, so it does not change the fingerprint.
    spec = load_spec(write_spec(tmp_path / "c.yaml", tiny_bert))
    assert spec.fingerprint() == load_spec(tmp_path / "a.yaml").fingerprint()


@pytest.mark.slow
def test_multi_process_runner_gives_the_same_store(tmp_path, tiny_spec):
    manifest = str(write_jsonl(tmp_path / "m.jsonl", sentences(80)))
    extract(tiny_spec, tmp_path / "a", manifest)
    report = extract(tiny_spec, tmp_path / "b", manifest,
                     beam_args=["--direct_running_mode=multi_processing", "--direct_num_workers=2"])
    assert report["n_ok"] == 80 and report["beam_counters"]["rows_read"] == 80
    a, b = vectors_by_id(FeatureStore(tmp_path / "a"), "tiny_text"), vectors_by_id(FeatureStore(tmp_path / "b"),
                                                                                    "tiny_text")
    assert a.keys() == b.keys() and all(np.allclose(a[k], b[k], atol=1e-6) for k in a)
