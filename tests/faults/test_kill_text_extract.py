"""kill -9 of a one-process text extraction at each commit point; a rerun leaves every id exactly once.

The runs are killed by the fault hook (``hook/sitecustomize.py``) at the k-th call of a
store function, so each test hits the same moment on every machine. After the kill:
nothing half-done is visible, a rerun exits 0, every id is stored (or is an error row)
exactly once, a plain pandas read agrees, and ``mmfeat verify`` is clean.
"""
import json

import pytest

from mmfeat import FeatureStore
from mmfeat.cli import main
from tests.conftest import sentences, write_jsonl, write_spec
from tests.faults.harness import assert_exact, killed_run

pytestmark = pytest.mark.slow

N_ROWS = 120


def staged(set_dir):
    return sorted(p.name for p in set_dir.rglob("*.staged"))


def logged_but_unpublished(set_dir):
    """Parts named by a log record that still carry their staged name (the commit was cut before publish)."""
    named = {e["path"] for p in set_dir.glob("_log/*/*.json") for e in json.loads(p.read_text())["add"]}
    return [p for p in named if not (set_dir / p).exists()]


def running_reports(set_dir):
    reports = [json.loads(p.read_text()) for p in set_dir.glob("runs/*.json")]
    return [r for r in reports if r["status"] == "running"]


# (name, fault: module:attr:k:before|after, what must hold right after the kill)
POINTS = [
    ("after the 1st commit", "mmfeat.store.bucket_log:BucketLog.commit:1:after", None),
    ("after the 6th commit", "mmfeat.store.bucket_log:BucketLog.commit:6:after", None),
    ("staged part written, no log record yet", "mmfeat.extract.unit_commit:write_part:3:after", staged),
    ("log record written, its parts not yet published", "mmfeat.store.bucket_log:create_exclusive_json:2:after",
     logged_but_unpublished),
    ("between the publishes of one commit", "mmfeat.store.bucket_log:publish:2:before", logged_but_unpublished),
    ("after the 1st batch of unit stats", "mmfeat.extract.unit_stats:replace_json:1:after", None),
    ("while merging the unit stats", "mmfeat.beam.extract_job:merge_unit_stats:1:before", running_reports),
    ("before the final run report", "mmfeat.beam.extract_job:replace_json:2:before", running_reports),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, tiny_bert):
    root = tmp_path_factory.mktemp("text-corpus")
    rows = sentences(N_ROWS)
    for k in range(0, N_ROWS, 4):
        rows[k]["text"] = ""  # an error row in most chunks: commits that add a data and an errors part
    manifest = write_jsonl(root / "m.jsonl", rows)
    ok = {r["id"] for r in rows if r["text"]}
    return write_spec(root / "spec.yaml", tiny_bert), manifest, ok, {r["id"] for r in rows} - ok


def extract_args(store, spec, manifest):
    return ["extract", "--store", str(store), "--input", str(manifest), "--feature", str(spec),
            "--buckets", "4", "--slots", "1", "--chunk-rows", "8"]


@pytest.mark.parametrize("fault,check", [p[1:] for p in POINTS], ids=[p[0] for p in POINTS])
def test_kill_9_then_rerun_is_exact(tmp_path, corpus, fault, check):
    spec, manifest, ok, bad = corpus
    store = tmp_path / "store"
    args = extract_args(store, spec, manifest)
    killed_run(args, fault)
    set_dir = store / "tiny_text"
    if check is not None:
        assert check(set_dir), f"the kill did not land where intended ({check.__name__} is empty)"
    assert main(["verify", "--store", str(store), "tiny_text"]) == 0  # the killed run left nothing damaged
    assert main(args) == 0
    assert_exact(store, "tiny_text", ok, bad)
    last = FeatureStore(store).runs("tiny_text")[-1]
    assert last["status"] == "ok" and last["n_input"] == N_ROWS


REWRITE_POINTS = [
    pytest.param("mmfeat.store.bucket_log:BucketLog.commit:1:after", id="after the 1st rewriting commit"),
    pytest.param("mmfeat.store.bucket_log:create_exclusive_json:1:after",
                 id="rewriting commit recorded, replaced parts not yet in _trash"),
]


@pytest.mark.parametrize("fault", REWRITE_POINTS)
def test_kill_9_while_a_rerun_replaces_changed_rows(tmp_path, corpus, fault):
    """The rerun after an input changed rewrites parts (old ones go to _trash); kill it mid-way."""
    spec, manifest, ok, bad = corpus
    store = tmp_path / "store"
    assert main(extract_args(store, spec, manifest)) == 0
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    for row in rows[1::3]:
        if row["text"]:
            row["text"] += " changed"
    changed = write_jsonl(tmp_path / "changed.jsonl", rows)
    args = extract_args(store, spec, changed)
    killed_run(args, fault)
    assert main(["verify", "--store", str(store), "tiny_text"]) == 0
    assert main(args) == 0
    assert_exact(store, "tiny_text", ok, bad)
    texts = {r["id"]: r["text"] for r in rows}
    stored = FeatureStore(store).read("tiny_text", columns=["id", "content_key"]).to_pylist()
    assert len({r["content_key"] for r in stored}) == len(ok)  # the changed texts were stored, once each
    assert all(texts[r["id"]] for r in stored)
