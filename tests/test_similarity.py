"""Exact cosine top-k, streamed by bucket, against brute force; the CLI; the README's duckdb query."""
import json

import numpy as np
import pytest

from mmfeat import FeatureStore
from mmfeat.cli import main
from mmfeat.errors import MmfeatError
from mmfeat.similarity import similar
from tests.store_factory import put


def brute_force(ids, vectors, query, k, exclude=()):
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-30)
    scores = unit @ (query / np.linalg.norm(query))
    ranked = sorted((i for i in range(len(ids)) if ids[i] not in exclude), key=lambda i: (-scores[i], ids[i]))
    return [ids[i] for i in ranked[:k]], scores[ranked[:k]]


@pytest.fixture
def random_store(tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"r{k}" for k in range(300)]
    vectors = rng.normal(size=(300, 12)).astype(np.float32)
    vectors[5] = 0  # a zero vector scores 0, never NaN
    vectors[7] = vectors[8] * 3  # same direction: an exact tie, broken by id
    store = FeatureStore(tmp_path / "store", create=True, n_buckets=8)
    put(store, "vec", ids, vectors)
    return store, ids, vectors


@pytest.mark.parametrize("k", [1, 7, 300, 1000])
def test_top_k_of_a_vector_matches_brute_force(random_store, k):
    store, ids, vectors = random_store
    query = np.random.default_rng(1).normal(size=12).astype(np.float32)
    got = similar(store, "vec", query, k)
    want_ids, want_scores = brute_force(ids, vectors, query, k)
    assert [m.id for m in got] == want_ids
    np.testing.assert_allclose([m.score for m in got], want_scores, rtol=1e-5, atol=1e-6)


def test_an_id_query_leaves_the_row_itself_out_and_ties_are_ordered_by_id(random_store):
    store, ids, vectors = random_store
    got = similar(store, "vec", "r8", 5)
    want_ids, _ = brute_force(ids, vectors, vectors[8], 5, exclude={"r8"})
    assert [m.id for m in got] == want_ids and got[0].id == "r7" and got[0].score == pytest.approx(1, abs=1e-6)
    with pytest.raises(MmfeatError, match="no row with id 'nope'"):
        similar(store, "vec", "nope", 5)
    with pytest.raises(MmfeatError, match="12-d vectors; the query has 3"):
        similar(store, "vec", [1, 2, 3], 5)


def test_the_search_reads_one_bucket_at_a_time(random_store, monkeypatch):
    store, _, _ = random_store
    read = []
    original = FeatureStore.read_bucket
    monkeypatch.setattr(FeatureStore, "read", lambda *a, **kw: pytest.fail("read the whole set"))
    monkeypatch.setattr(FeatureStore, "read_bucket",
                        lambda self, name, b, **kw: read.append((b, kw.get("columns"))) or original(self, name, b, **kw))
    similar(store, "vec", np.ones(12), 3)
    assert read == [(b, ["id", "embedding"]) for b in range(8)]


def test_cli_similar_by_id_prints_ranked_lines_or_json(random_store, capsys):
    store, ids, vectors = random_store
    assert main(["similar", "vec", "--store", str(store.root), "--id", "r3", "-k", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    want_ids, _ = brute_force(ids, vectors, vectors[3], 4, exclude={"r3"})
    assert [line.split("\t")[0] for line in lines] == ["1", "2", "3", "4"]
    assert [line.split("\t")[2] for line in lines] == want_ids
    assert main(["similar", "vec", "--store", str(store.root), "--id", "r3", "-k", "2", "--json"]) == 0
    assert [m["id"] for m in json.loads(capsys.readouterr().out)] == want_ids[:2]


def test_cli_similar_by_text_encodes_with_the_sets_own_spec(tmp_path, tiny_spec, capsys):
    from mmfeat.beam.extract_job import extract
    from tests.conftest import sentences, write_jsonl

    rows = sentences(30)
    extract(tiny_spec, tmp_path / "store", str(write_jsonl(tmp_path / "m.jsonl", rows)))
    assert main(["similar", "tiny_text", "--store", str(tmp_path / "store"), "--text", rows[11]["text"],
                 "-k", "3", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got[0]["id"] == "s11" and got[0]["score"] == pytest.approx(1, abs=1e-5)
    ids, vectors = FeatureStore(tmp_path / "store").to_numpy("tiny_text")
    want_ids, _ = brute_force(list(ids), vectors, vectors[list(ids).index("s11")], 3)
    assert [m["id"] for m in got] == want_ids
    assert main(["similar", "tiny_text", "--store", str(tmp_path / "store"), "--image", "x.png"]) == 1
    assert "holds text vectors (hf-text); a image query needs a joint" in capsys.readouterr().err


@pytest.mark.slow
def test_a_text_finds_images_in_a_clip_set(tmp_path, capsys):
    from mmfeat.beam.extract_job import extract
    from mmfeat.similarity import encode_query
    from tests.conftest import write_jsonl
    from tests.encoders.test_hf_clip import clip_spec, make_tiny_clip
    from tests.media_factory import write_image

    model = make_tiny_clip(tmp_path / "clip")
    images = [str(write_image(tmp_path / f"{k}.png", seed=k)) for k in range(6)]
    manifest = write_jsonl(tmp_path / "m.jsonl", [{"id": f"i{k}", "image": p} for k, p in enumerate(images)])
    extract(clip_spec(model, "image"), tmp_path / "store", str(manifest))
    store = FeatureStore(tmp_path / "store")
    text = clip_spec(model, "text").create_encoder()
    text.load()
    query = text.encode(text.preprocess(["a red square"]))[0]
    ids, vectors = store.to_numpy("clip_image")
    want_ids, want_scores = brute_force(list(ids), vectors, query, 4)
    np.testing.assert_allclose(encode_query(store, "clip_image", "a red square", "text"), query, rtol=1e-5)
    assert main(["similar", "clip_image", "--store", str(store.root), "--text", "a red square", "-k", "4",
                 "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [m["id"] for m in got] == want_ids
    np.testing.assert_allclose([m["score"] for m in got], want_scores, rtol=1e-4, atol=1e-5)
    assert main(["similar", "clip_image", "--store", str(store.root), "--image", images[2], "-k", "1"]) == 0
    assert capsys.readouterr().out.split("\t")[2].strip() == "i2"


def test_readme_duckdb_query_with_the_fixed_size_cast(random_store):
    duckdb = pytest.importorskip("duckdb")
    store, ids, vectors = random_store
    data = f"{store.root}/vec/data/*/*.parquet"
    # The README's query, with its store path, dimension and id substituted.
    sql = f"""
        WITH v AS (SELECT id, embedding::FLOAT[12] AS e FROM '{data}')
        SELECT b.id, array_cosine_similarity(a.e, b.e) AS score
        FROM v a, v b WHERE a.id = 'r3' AND b.id <> a.id
        ORDER BY score DESC, b.id LIMIT 5"""
    rows = duckdb.sql(sql).fetchall()
    want = similar(store, "vec", "r3", 4)
    assert rows[0][0] == "r5" and np.isnan(rows[0][1])  # the zero vector: NaN, which duckdb sorts first
    assert [r[0] for r in rows[1:]] == [m.id for m in want]
    np.testing.assert_allclose([r[1] for r in rows[1:]], [m.score for m in want], rtol=1e-5)
    with pytest.raises(duckdb.BinderException):  # without the cast duckdb sees FLOAT[] and refuses
        duckdb.sql(f"SELECT array_cosine_similarity(embedding, embedding) FROM '{data}'").fetchall()
