"""Image and audio feature sets through the same Beam pipeline, store and error machinery as text."""
import os
import pickle
import shutil
from pathlib import Path

import numpy as np

from mmfeat import FeatureStore
from mmfeat.beam.extract_job import extract
from mmfeat.extract.units import DEFAULT_SLOTS, id_digest, unit_of
from mmfeat.spec import FeatureSpec, load_spec
from tests.conftest import REPO, write_jsonl
from tests.media_factory import corrupt_audio, corrupt_images, write_audio, write_image, write_tar


def pixels_spec(**encoder):
    return FeatureSpec.from_dict({"name": "px", "modality": "image", "input": {"column": "image"},
                                  "encoder": {"kind": "pixels", "size": 8, "color": "gray", **encoder},
                                  "batching": {"max_batch_size": 4}})


def expected_pixels(path, size=8):
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("L").resize((size, size), Image.Resampling.BOX), np.float32).reshape(-1) / 255


def errors_by_id(store, name):
    return {e["id"]: e for e in store.errors(name).to_pylist()}


def test_image_manifest_relative_paths_and_corrupt_corpus(tmp_path):
    media = tmp_path / "data" / "media"
    media.mkdir(parents=True)
    rows = []
    for k in range(10):
        path = write_image(media / f"ok{k}.{'png' if k % 2 else 'jpg'}", seed=k)
        ref = str(path) if k == 0 else f"media/{path.name}"  # absolute and manifest-relative
        rows.append({"id": f"ok{k}", "image": ref})
    broken = corrupt_images(media)
    rows += [{"id": name, "image": f"media/{name}"} for name in broken]
    manifest = write_jsonl(tmp_path / "data" / "manifest.jsonl", rows)

    cwd = os.getcwd()
    os.chdir(tmp_path)  # relative paths must resolve against the manifest, not the working directory
    try:
        report = extract(pixels_spec(), tmp_path / "store", "data/manifest.jsonl")
    finally:
        os.chdir(cwd)

    assert (report["n_input"], report["n_ok"], report["n_error"], report["n_skipped"]) == (16, 10, 6, 0)
    store = FeatureStore(tmp_path / "store")
    errors = errors_by_id(store, "px")
    assert set(errors) == set(broken)
    for name, fragment in broken.items():
        assert fragment in errors[name]["reason"], (name, errors[name])
        assert errors[name]["source"] == str(manifest)
    ids, vectors = store.to_numpy("px")
    got = dict(zip(ids, vectors))
    for k in range(10):
        path = media / f"ok{k}.{'png' if k % 2 else 'jpg'}"
        np.testing.assert_allclose(got[f"ok{k}"], expected_pixels(path), atol=1e-6)


def test_rerun_skips_in_place_change_replaces_and_copies_reuse(tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    rows = [{"id": f"i{k}", "image": str(write_image(media / f"i{k}.png", seed=k))} for k in range(6)]
    manifest = write_jsonl(tmp_path / "m.jsonl", rows)
    spec = pixels_spec()
    first = extract(spec, tmp_path / "store", str(manifest))
    assert first["n_encoded"] == 6

    again = extract(spec, tmp_path / "store", str(manifest))
    assert (again["n_skipped"], again["n_encoded"]) == (6, 0)

    write_image(media / "i3.png", seed=99)  # same path, new pixels: must be recomputed
    shutil.copy(media / "i1.png", media / "copy_of_i1.png")  # new id, known content: reused, not encoded
    n_buckets = FeatureStore(tmp_path / "store").n_buckets
    # Content reuse is per unit (bucket x slot; see README, Limits): give the copy an id in i1's unit.
    unit = unit_of(id_digest("i1"), n_buckets, DEFAULT_SLOTS)
    copy_id = next(f"copy{k}" for k in range(1000) if unit_of(id_digest(f"copy{k}"), n_buckets, DEFAULT_SLOTS) == unit)
    rows.append({"id": copy_id, "image": str(media / "copy_of_i1.png")})
    write_jsonl(manifest, rows)
    third = extract(spec, tmp_path / "store", str(manifest))
    assert (third["n_ok"], third["n_skipped"]) == (2, 5)
    assert third["n_encoded"] == 1
    store = FeatureStore(tmp_path / "store")
    got = dict(zip(*store.to_numpy("px")))
    assert len(got) == 7
    np.testing.assert_allclose(got["i3"], expected_pixels(media / "i3.png"), atol=1e-6)
    np.testing.assert_array_equal(got[copy_id], got["i1"])


def test_audio_manifest_corrupt_corpus_and_resampling(tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    rows = []
    for k, (rate, ext, channels) in enumerate([(16000, "wav", 1), (8000, "flac", 1), (22050, "wav", 2),
                                               (44100, "flac", 2), (16000, "ogg", 1)]):
        write_audio(media / f"ok{k}.{ext}", 0.4 + 0.3 * k, rate=rate, freq=300 + 50 * k, channels=channels)
        rows.append({"id": f"ok{k}", "audio": f"media/ok{k}.{ext}"})
    broken = corrupt_audio(media)
    rows += [{"id": name, "audio": f"media/{name}"} for name in broken]
    manifest = write_jsonl(tmp_path / "m.jsonl", rows)
    spec = load_spec(REPO / "features" / "audio_logmel.yaml")
    spec = FeatureSpec.from_dict({**spec.to_dict(), "encoder": {**spec.to_dict()["encoder"], "max_seconds": 2.5}})

    report = extract(spec, tmp_path / "store", str(manifest))
    assert (report["n_ok"], report["n_error"]) == (5, len(broken))
    store = FeatureStore(tmp_path / "store")
    errors = errors_by_id(store, "audio_logmel")
    for name, fragment in broken.items():
        assert fragment in errors[name]["reason"], (name, errors[name])
    ids, vectors = store.to_numpy("audio_logmel")
    assert vectors.shape == (5, 256) and np.isfinite(vectors).all()


def _pwn_pickle(marker: Path) -> bytes:
    class Pwn:
        def __reduce__(self):
            return (Path.touch, (marker,))

    return pickle.dumps(Pwn())


def test_webdataset_shards_with_brace_pattern(tmp_path):
    marker = tmp_path / "unpickled"
    png = [(tmp_path / f"{k}.png") for k in range(6)]
    for k, p in enumerate(png):
        write_image(p, seed=k)
    write_tar(tmp_path / "data-000.tar", [
        ("a/s0.png", png[0].read_bytes()), ("a/s0.cls", b"3"), ("a/s0.pyd", _pwn_pickle(marker)),
        ("a/s1.png", png[1].read_bytes()), ("a/s1.json", b"{}"),
        ("a/s2.cls", b"1"),  # no image member
        ("../escape.png", png[2].read_bytes()),
    ])
    write_tar(tmp_path / "data-001.tar", [
        ("b/s3.png", png[3].read_bytes()), ("b/s4.PNG", png[4].read_bytes()),
        ("b/s5.png", b"garbage, not a png"),
    ])
    spec = pixels_spec()
    spec = FeatureSpec.from_dict({**spec.to_dict(), "input": {"column": "png", "id_column": "id", "source": "auto"}})
    report = extract(spec, tmp_path / "store", str(tmp_path / "data-{000..001}.tar"))

    assert report["n_input"] == 7
    assert (report["n_ok"], report["n_error"]) == (4, 3)
    assert not marker.exists(), "a pickled member was decoded"
    store = FeatureStore(tmp_path / "store")
    got = dict(zip(*store.to_numpy("px")))
    assert sorted(got) == ["a/s0", "a/s1", "b/s3", "b/s4"]
    np.testing.assert_allclose(got["b/s3"], expected_pixels(png[3]), atol=1e-6)
    errors = errors_by_id(store, "px")
    assert "no .png member (has: cls)" in errors["a/s2"]["reason"]
    assert "unsafe member name" in errors[f"{tmp_path}/data-000.tar:../escape.png"]["reason"]
    assert "not an image" in errors["b/s5"]["reason"]


def test_hf_audio_long_clips_are_chunked_and_chunks_kept(tmp_path):
    from tests.media_factory import make_tiny_wav2vec2

    model = make_tiny_wav2vec2(tmp_path / "w2v")
    media = tmp_path / "media"
    media.mkdir()
    lengths = {"short": 0.6, "mid": 2.0, "long": 3.5}
    rows = [{"id": k, "audio": str(write_audio(media / f"{k}.wav", s, freq=200 + 100 * i))}
            for i, (k, s) in enumerate(lengths.items())]
    manifest = write_jsonl(tmp_path / "m.jsonl", rows)
    spec = FeatureSpec.from_dict({"name": "w2v", "modality": "audio", "input": {"column": "audio"},
                                  "encoder": {"kind": "hf-audio", "model": str(model), "chunk_seconds": 1.0,
                                              "keep_chunks": True},
                                  "batching": {"max_cost": 64000, "max_batch_size": 4}})
    report = extract(spec, tmp_path / "store", str(manifest))
    assert report["n_ok"] == 3
    table = FeatureStore(tmp_path / "store").read("w2v")
    rows = {r["id"]: r for r in table.to_pylist()}
    # 1 s windows without overlap; the last one aligned to the end: 0.6 s → 1, 2.0 s → 2, 3.5 s → 4.
    assert {k: len(rows[k]["chunks"]) for k in rows} == {"short": 1, "mid": 2, "long": 4}
    for r in rows.values():
        np.testing.assert_allclose(np.mean(r["chunks"], axis=0), r["embedding"], rtol=1e-5, atol=1e-6)
    # Export keeps the chunk sequences too.
    from mmfeat.export.wds import export_wds
    import webdataset as wds

    export_wds(FeatureStore(tmp_path / "store"), ["w2v"], tmp_path / "wds")
    samples = {s["json"]["id"]: s for s in wds.WebDataset(str(tmp_path / "wds" / "shard-000000.tar"),
                                                          shardshuffle=False).decode()}
    assert samples["long"]["w2v.chunks.npy"].shape == (4, 32)
