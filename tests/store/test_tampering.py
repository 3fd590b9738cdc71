"""Tampering with a real store: each kind is detected by read and verify, and repair plus a rerun restores it.

The store is filled by three real extract runs (so buckets hold several parts,
log versions and error rows). After repair and a rerun every id is stored
exactly once, verify is clean, and pandas and duckdb reading the directory see
exactly the API's rows.
"""
import json
import shutil

import pytest

from mmfeat import FeatureStore
from mmfeat.beam.extract_job import extract
from mmfeat.cli import main
from mmfeat.errors import StoreError
from tests.conftest import sentences, write_jsonl

N_BUCKETS = 4
BAD_ROWS = [{"id": "bad-empty", "text": ""}, "{not json"]


def _manifest(path, n):
    return str(write_jsonl(path, [*BAD_ROWS, *sentences(n)]))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, tiny_bert):
    from tests.conftest import write_spec

    base = tmp_path_factory.mktemp("tamper-base")
    spec = write_spec(base / "tiny_text.yaml", tiny_bert)
    for n in (32, 48, 64):
        extract(spec, base / "store", _manifest(base / "m.jsonl", n), n_buckets=N_BUCKETS)
    return base


@pytest.fixture
def copy(pristine, tmp_path):
    shutil.copytree(pristine / "store", tmp_path / "store")
    shutil.copy(pristine / "tiny_text.yaml", tmp_path / "tiny_text.yaml")
    return tmp_path


def _set_dir(root):
    return root / "store" / "tiny_text"


def _data_entry(root, *, versions_at_least=1):
    store = FeatureStore(root / "store")
    for state in store.states("tiny_text"):
        if state.files("data") and state.version >= versions_at_least:
            return state.bucket, state.files("data")[0]
    raise AssertionError("no bucket with data")


def _flip_byte(root):
    bucket, entry = _data_entry(root)
    path = _set_dir(root) / entry["path"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return path.name


def _truncate_part(root):
    bucket, entry = _data_entry(root)
    path = _set_dir(root) / entry["path"]
    path.write_bytes(path.read_bytes()[: entry["bytes"] // 2])
    return path.name


def _delete_part(root):
    bucket, entry = _data_entry(root)
    (_set_dir(root) / entry["path"]).unlink()
    return entry["path"].split("/")[-1]


def _last_version_with_adds(root):
    for log_dir in sorted((_set_dir(root) / "_log").iterdir()):
        for version in sorted(log_dir.glob("*.json"), reverse=True):
            if json.loads(version.read_text())["add"]:
                return version
    raise AssertionError("no commit adds anything")


def _edit_log_entry(root):
    version = _last_version_with_adds(root)
    record = json.loads(version.read_text())
    record["add"] = []
    version.write_text(json.dumps(record))
    return version.parent.name


def _stray_file(root):
    bucket, entry = _data_entry(root)
    src = _set_dir(root) / entry["path"]
    shutil.copy(src, src.with_name("part-stray.parquet"))  # its rows duplicate live ones
    return "part-stray.parquet"


def _delete_log_dir(root):
    bucket, _ = _data_entry(root)
    shutil.rmtree(_set_dir(root) / "_log" / f"bucket={bucket:05d}")
    return f"bucket={bucket:05d}"


def _change_bucket_count(root):
    settings = root / "store" / "mmfeat_store.json"
    settings.write_text(json.dumps({**json.loads(settings.read_text()), "n_buckets": 2}))
    return "mmfeat_store.json"


def _log_path_outside(root):
    outside = root / "x.parquet"
    bucket, entry = _data_entry(root)
    shutil.copy(_set_dir(root) / entry["path"], outside)
    version = _last_version_with_adds(root)
    record = json.loads(version.read_text())
    record["add"][0]["path"] = "../../x.parquet"
    version.write_text(json.dumps(record))
    return version.parent.name


def _truncate_log(root):
    version = _last_version_with_adds(root)
    version.write_bytes(version.read_bytes()[:40])
    return version.name


def _delete_middle_version(root):
    for log_dir in sorted((_set_dir(root) / "_log").iterdir()):
        versions = sorted(log_dir.glob("*.json"))
        if len(versions) >= 3:
            versions[1].unlink()
            return log_dir.name
    raise AssertionError("no bucket with three versions")


TAMPERING = {f.__name__.lstrip("_"): f for f in (
    _flip_byte, _truncate_part, _delete_part, _edit_log_entry, _stray_file, _delete_log_dir,
    _change_bucket_count, _log_path_outside, _truncate_log, _delete_middle_version)}


def _directory_rows(set_dir):
    import duckdb
    import pandas as pd

    frame = pd.read_parquet(set_dir / "data")
    ids = duckdb.sql(f"select id from '{set_dir}/data/*/*.parquet'").fetchall()
    return sorted(frame["id"]), sorted(i for (i,) in ids)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_tampering_is_detected_and_repair_plus_rerun_restores_the_set(pristine, copy, kind):
    store_dir = copy / "store"
    before = FeatureStore(store_dir)
    expected_ids = sorted(before.read("tiny_text")["id"].to_pylist())
    expected_errors = sorted(before.errors("tiny_text")["id"].to_pylist())
    assert expected_ids == sorted(r["id"] for r in sentences(64)) and len(expected_errors) == 2

    named = TAMPERING[kind](copy)

    with pytest.raises(StoreError) as caught:
        FeatureStore(store_dir).read("tiny_text")
    assert named in str(caught.value) and "mmfeat repair" in str(caught.value)
    assert FeatureStore(store_dir).verify("tiny_text")
    assert main(["verify", "--store", str(store_dir), "tiny_text"]) == 1

    assert main(["repair", "--store", str(store_dir), "tiny_text"]) == 0
    set_dir = _set_dir(copy)
    extract(copy / "tiny_text.yaml", store_dir, str(pristine / "m.jsonl"))

    store = FeatureStore(store_dir)
    assert store.n_buckets == N_BUCKETS
    ids = store.read("tiny_text")["id"].to_pylist()
    assert sorted(ids) == expected_ids  # every id exactly once
    assert sorted(store.errors("tiny_text")["id"].to_pylist()) == expected_errors
    assert store.verify("tiny_text") == []
    assert main(["verify", "--store", str(store_dir), "tiny_text"]) == 0
    assert _directory_rows(set_dir) == (expected_ids, expected_ids)
    if kind == "log_path_outside":
        assert (copy / "x.parquet").exists()  # never read, never deleted
        assert store.vacuum("tiny_text", min_age_s=0) is not None and (copy / "x.parquet").exists()
