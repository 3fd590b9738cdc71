"""A feature store on object storage, against local servers on 127.0.0.1: S3 (moto) and Azure Blob (Azurite).

The same commands and guarantees as a local store: extract, read, verify,
repair; exactly-once under kill -9 and under two concurrent writers; tampering
detected; credentials never written anywhere. Tests taking ``remote`` run on
both backends (through s3fs and adlfs); the others on S3.
"""
import subprocess
import threading

import numpy as np
import pandas as pd
import pytest

from mmfeat import FeatureStore
from mmfeat.buckets import bucket_of as bucket_of_id
from mmfeat.cli import main
from mmfeat.errors import MmfeatError, StoreError
from mmfeat.jobs.spec import load_job
from mmfeat.store.bucket_log import BucketLog
from mmfeat.store.layout import bucket_dir
from mmfeat.store.objects import open_url
from mmfeat.store.parts import data_table, write_part
from tests.conftest import sentences, write_jsonl, write_spec
from tests.faults.harness import assert_exact, cli, killed_run
from tests.store_factory import put

N_ROWS = 60


@pytest.fixture
def corpus(tmp_path, tiny_bert):
    rows = sentences(N_ROWS)
    for k in range(0, N_ROWS, 10):
        rows[k]["text"] = ""  # an error row now and then
    ok = {r["id"] for r in rows if r["text"]}
    return (write_spec(tmp_path / "spec.yaml", tiny_bert), write_jsonl(tmp_path / "m.jsonl", rows), ok,
            {r["id"] for r in rows} - ok)


def extract_args(store, spec, manifest, *more):
    return ["extract", "--store", str(store), "--input", str(manifest), "--feature", str(spec),
            "--buckets", "4", "--slots", "1", "--chunk-rows", "8", *more]


def bucket_of(url: str) -> str:
    return url.split("/")[2]


def test_log_versions_are_created_exclusively_one_winner_among_racers(remote):
    path = open_url(remote.url) / "_log" / "bucket=00000" / "00000001.json"
    wins, barrier = [], threading.Barrier(8)

    def racer(k):
        barrier.wait()
        if path.create_exclusive(f'{{"writer": {k}}}'.encode()):
            wins.append(k)

    threads = [threading.Thread(target=racer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert path.read_bytes() == f'{{"writer": {wins[0]}}}'.encode()


def test_backends_without_conditional_writes_and_credentials_in_urls_are_refused(s3, tmp_path):
    with pytest.raises(StoreError, match="conditional writes"):
        FeatureStore("http://example.org/store")
    with pytest.raises(StoreError, match="credentials in the store URL") as info:
        FeatureStore(f"s3://AKIDEXAMPLE:{'s3cr3t' * 3}@bucket/store")
    assert "s3cr3t" not in str(info.value)
    with pytest.raises(StoreError, match="storage options apply to object-store URLs"):
        FeatureStore(tmp_path, storage_options={"anon": True})
    with pytest.raises(StoreError, match="no feature store here"):
        FeatureStore(s3)


def test_extract_read_and_rerun_with_no_credentials_written_anywhere(remote, corpus, monkeypatch):
    spec, manifest, ok, bad = corpus
    result = subprocess.run(cli(*extract_args(remote.url, spec, manifest)), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_exact(remote.url, "tiny_text", ok, bad)
    store = FeatureStore(remote.url)
    assert store.list() == ["tiny_text"] and store.counts("tiny_text")["rows"] == len(ok)
    for command in (["ls"], ["show", "tiny_text"]):
        assert main([command[0], "--store", remote.url, *command[1:]]) == 0

    # The rerun gets its credentials and endpoint from --storage-option instead of the environment.
    for key in remote.server.env():
        monkeypatch.delenv(key)
    options = [arg for key, value in remote.options.items() for arg in ("--storage-option", f"{key}={value}")]
    rerun = subprocess.run(cli(*extract_args(remote.url, spec, manifest), *options), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert '"n_skipped": %d' % len(ok) in rerun.stdout  # nothing recomputed
    assert main(["verify", "--store", remote.url, "tiny_text", *options]) == 0

    objects = remote.objects()
    assert objects and not [key for key, data in objects.items() if remote.secret.encode() in data]
    assert remote.secret not in result.stdout + result.stderr + rerun.stdout + rerun.stderr


def test_an_s3_store_holds_the_same_bytes_a_local_store_would(tmp_path, s3, s3_server, corpus):
    """Downloaded object by object, the S3 store is a valid local store whose checksums all verify, and its
    data equal those of the same extract into a local path; plain pandas reads it on S3 too."""
    spec, manifest, ok, bad = corpus
    local = tmp_path / "local"
    assert main(extract_args(local, spec, manifest)) == 0
    assert main(extract_args(s3, spec, manifest)) == 0
    copy = tmp_path / "copy"
    prefix = s3.split("/", 3)[3] + "/"
    for key, data in s3_server.objects(bucket_of(s3), prefix).items():
        target = copy / key[len(prefix):]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    assert main(["verify", "--store", str(copy), "tiny_text"]) == 0
    columns = ["id", "embedding", "content_key"]
    tables = [FeatureStore(root).read("tiny_text", columns=columns).sort_by("id") for root in (local, copy, s3)]
    assert tables[0].equals(tables[1]) and tables[0].equals(tables[2])

    def layout(root):
        return sorted(p.relative_to(root).parts[:-1] + (p.suffix,) for p in root.rglob("*")
                      if p.is_file() and "_runs" not in p.parts and "runs" not in p.parts)

    assert layout(local / "tiny_text") == layout(copy / "tiny_text")
    plain = pd.read_parquet(f"{s3}/tiny_text/data", columns=["id"])["id"]
    assert plain.is_unique and set(plain) == ok


@pytest.mark.slow
@pytest.mark.parametrize("fault", [
    pytest.param("mmfeat.store.bucket_log:BucketLog.commit:2:after", id="after the 2nd commit"),
    pytest.param("mmfeat.store.bucket_log:create_exclusive_json:3:after", id="log record PUT, parts not copied"),
    pytest.param("mmfeat.store.objects:ObjectPath.move_to:2:after", id="between the copies of one commit"),
    pytest.param("mmfeat.extract.unit_job:UnitJob._finish:2:before", id="a unit's last commit queued, not run"),
])
def test_kill_9_mid_run_then_rerun_is_exact(remote, corpus, fault):
    spec, manifest, ok, bad = corpus
    args = extract_args(remote.url, spec, manifest)
    killed_run(args, fault)
    assert main(["verify", "--store", remote.url, "tiny_text"]) == 0
    assert main(args) == 0
    assert_exact(remote.url, "tiny_text", ok, bad)


@pytest.mark.slow
def test_two_concurrent_writers_lose_and_duplicate_nothing(tmp_path, remote, tiny_bert):
    rows = sentences(120)
    spec = write_spec(tmp_path / "spec.yaml", tiny_bert)
    first, second = write_jsonl(tmp_path / "a.jsonl", rows[:80]), write_jsonl(tmp_path / "b.jsonl", rows[40:])
    FeatureStore(remote.url, create=True, n_buckets=4)
    procs = [subprocess.Popen(cli(*extract_args(remote.url, spec, m)), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for m in (first, second)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-2000:] for o in outputs)
    assert_exact(remote.url, "tiny_text", {r["id"] for r in rows})


@pytest.mark.slow
def test_a_tampered_object_is_detected_and_repair_plus_rerun_restores_the_set(remote, corpus):
    spec, manifest, ok, bad = corpus
    assert main(extract_args(remote.url, spec, manifest)) == 0
    key, data = next((k, v) for k, v in remote.objects().items() if "/data/bucket=" in k and "/_trash/" not in k)
    data = bytearray(data)
    data[len(data) // 2] ^= 0x01
    remote.put(key, bytes(data))
    with pytest.raises(StoreError, match="checksum mismatch"):
        FeatureStore(remote.url).read("tiny_text")
    assert main(["verify", "--store", remote.url, "tiny_text"]) == 1
    assert main(["repair", "--store", remote.url, "tiny_text"]) == 0
    quarantined = [k for k in remote.objects() if "/_quarantine/" in k]
    assert quarantined and quarantined[0].endswith(key.rsplit("/", 1)[1])
    assert main(extract_args(remote.url, spec, manifest)) == 0
    assert_exact(remote.url, "tiny_text", ok, bad)


def test_job_files_with_an_object_store_say_what_to_schedule_instead(tmp_path):
    job = tmp_path / "job.yaml"
    job.write_text("name: nightly\nstore: s3://bucket/store\nfeatures: []\n")
    with pytest.raises(MmfeatError, match="schedule the steps as `mmfeat extract`"):
        load_job(job)


def append_parts(store, name, ids, vectors):
    """Commit one part per bucket holding ``ids`` (appending, as extraction chunks do)."""
    set_dir = store.set_dir(name)
    for b in range(store.n_buckets):
        rows = [k for k, i in enumerate(ids) if bucket_of_id(i, store.n_buckets) == b]
        table = data_table([ids[k] for k in rows], vectors[rows], [f"ck-{ids[k]}" for k in rows])
        entry = write_part(table, bucket_dir(set_dir, "data", b) / f"part-{ids[0]}.parquet", "data", set_dir)
        log = BucketLog(set_dir, b)
        log.commit(log.state(), add=[entry], remove=[], info={})


def test_compact_vacuum_read_and_similar_work_on_s3(tmp_path, s3, s3_server):
    rng = np.random.default_rng(0)
    store = FeatureStore(s3, create=True, n_buckets=2)
    ids = [f"x{k}" for k in range(40)]
    put(store, "vecs", ids[:8], rng.normal(size=(8, 4)).astype(np.float32))
    for start in range(8, 40, 8):  # more commits per bucket: small parts to compact
        append_parts(store, "vecs", ids[start:start + 8], rng.normal(size=(8, 4)).astype(np.float32))
    before = store.read("vecs", columns=["id", "embedding"]).sort_by("id")
    assert store.counts("vecs")["data_files"] == 10
    assert main(["compact", "--store", s3, "vecs"]) == 0
    assert store.counts("vecs")["data_files"] == 2
    assert store.read("vecs", columns=["id", "embedding"]).sort_by("id").equals(before)
    trashed = [k for k in s3_server.objects(bucket_of(s3)) if "/_trash/" in k]
    assert len(trashed) == 10  # the compacted parts wait in _trash for readers of the older state
    assert main(["vacuum", "--store", s3, "vecs", "--older-than", "0"]) == 0
    assert not [k for k in s3_server.objects(bucket_of(s3)) if "/_trash/" in k]
    assert main(["verify", "--store", s3, "vecs"]) == 0

    out = tmp_path / "vecs.parquet"
    assert main(["read", "--store", s3, "vecs", "--out", str(out)]) == 0
    assert sorted(pd.read_parquet(out)["id"]) == sorted(ids)
    assert main(["similar", "--store", s3, "vecs", "--id", "x3", "-k", "3"]) == 0


def test_a_mount_without_hard_links_gets_the_bucket_url_advice(tmp_path, monkeypatch):
    """gcsfuse documents EPERM for link(2); the store says what to pass instead of a PermissionError."""
    import errno
    import os

    def no_links(src, dst):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    with pytest.raises(StoreError, match=r"cannot create hard links .*--store gs://BUCKET/PATH"):
        FeatureStore(tmp_path / "mounted", create=True)
