"""kill -9 of `mmfeat compact` on a store of many small parts; a rerun of compact finishes the job exactly."""
import shutil

import pytest

from mmfeat import FeatureStore
from mmfeat.beam.extract_job import extract
from mmfeat.cli import main
from mmfeat.spec import FeatureSpec
from tests.conftest import write_jsonl
from tests.faults.harness import assert_exact, killed_run
from tests.media_factory import write_image

pytestmark = pytest.mark.slow

POINTS = [
    pytest.param("mmfeat.store.compact:_merge:1:after", id="merged part staged, not committed"),
    pytest.param("mmfeat.store.bucket_log:create_exclusive_json:1:after",
                 id="compaction record written, merged part unpublished"),
    pytest.param("mmfeat.store.bucket_log:trash:2:after", id="between moving replaced parts to _trash"),
    pytest.param("mmfeat.store.bucket_log:BucketLog.commit:2:after", id="after 2 of 4 buckets compacted"),
]


@pytest.fixture(scope="module")
def small_parts(tmp_path_factory):
    """A 4-bucket store whose buckets hold ~4 data parts and a few error parts each."""
    root = tmp_path_factory.mktemp("compact")
    rows = [{"id": f"i{k}", "image": str(write_image(root / f"i{k}.png", seed=k, size=(8, 8)))} for k in range(60)]
    rows += [{"id": f"bad{k}", "image": str(root / f"missing{k}.png")} for k in range(12)]
    spec = FeatureSpec.from_dict({"name": "px", "modality": "image", "input": {"column": "image"},
                                  "encoder": {"kind": "pixels", "size": 4, "color": "gray"}})
    extract(spec, root / "store", str(write_jsonl(root / "m.jsonl", rows)), n_buckets=4, n_slots=1, chunk_rows=4)
    parts = sum(len(s.live) for s in FeatureStore(root / "store").states("px"))
    assert parts >= 16
    return root / "store", {r["id"] for r in rows if r["id"][0] == "i"}, {r["id"] for r in rows if r["id"][0] == "b"}


@pytest.mark.parametrize("fault", POINTS)
def test_kill_9_compact_then_rerun_is_exact(tmp_path, small_parts, fault):
    template, ok, bad = small_parts
    store = tmp_path / "store"
    shutil.copytree(template, store)
    killed_run(["compact", "--store", str(store), "px"], fault)
    assert main(["verify", "--store", str(store), "px"]) == 0
    assert_exact(store, "px", ok, bad)  # readers see every row once even before the rerun
    assert main(["compact", "--store", str(store), "px"]) == 0
    assert_exact(store, "px", ok, bad)
    for state in FeatureStore(store).states("px"):
        assert len(state.files("data")) == 1 and len(state.files("errors")) <= 1  # compaction completed
