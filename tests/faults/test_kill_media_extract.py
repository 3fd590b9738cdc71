"""kill -9 of a multi-process media extraction (2 Beam worker processes) at commit points in a worker.

The fault hook is loaded in every worker too; the first worker to reach the k-th call
kills the whole process group (driver and both workers), as an OOM killer or a node
loss would.
"""
import pytest

from mmfeat.cli import main
from tests.conftest import write_jsonl
from tests.faults.harness import assert_exact, killed_run
from tests.media_factory import write_audio, write_image

pytestmark = pytest.mark.slow

MULTI = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
POINTS = [
    ("image: after a worker's 2nd commit", "image", "mmfeat.store.bucket_log:BucketLog.commit:2:after"),
    ("image: staged part, no log record", "image", "mmfeat.extract.unit_commit:write_part:2:after"),
    ("audio: log record written, parts unpublished", "audio",
     "mmfeat.store.bucket_log:create_exclusive_json:1:after"),
]
SPECS = {
    "image": "name: px\nmodality: image\ninput: {column: image}\nencoder: {kind: pixels, size: 8, color: gray}\n",
    "audio": "name: mel\nmodality: audio\ninput: {column: audio}\n"
             "encoder: {kind: logmel, sample_rate: 8000, n_fft: 256, hop_length: 128, n_mels: 16}\n",
}


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    images = [{"id": f"i{k}", "image": str(write_image(root / f"i{k}.png", seed=k, size=(16, 12)))}
              for k in range(48)]
    images += [{"id": f"bad{k}", "image": str(root / f"missing{k}.png")} for k in range(4)]
    sounds = [{"id": f"a{k}", "audio": str(write_audio(root / f"a{k}.wav", 0.2, rate=8000, freq=200 + 20 * k))}
              for k in range(40)]
    out = {}
    for kind, rows in (("image", images), ("audio", sounds)):
        (root / f"{kind}.yaml").write_text(SPECS[kind])
        out[kind] = (root / f"{kind}.yaml", write_jsonl(root / f"{kind}.jsonl", rows),
                     {r["id"] for r in rows if not r["id"].startswith("bad")},
                     {r["id"] for r in rows if r["id"].startswith("bad")})
    return out


@pytest.mark.parametrize("kind,fault", [p[1:] for p in POINTS], ids=[p[0] for p in POINTS])
def test_kill_9_multi_process_then_rerun_is_exact(tmp_path, media, kind, fault):
    spec, manifest, ok, bad = media[kind]
    name = "px" if kind == "image" else "mel"
    store = tmp_path / "store"
    args = ["extract", "--store", str(store), "--input", str(manifest), "--feature", str(spec),
            "--buckets", "4", "--slots", "1", "--chunk-rows", "4", *MULTI]
    killed_run(args, fault)
    written = [*(store / name).rglob("*.staged"), *(store / name).glob("_log/*/*.json")]
    assert written, "the kill must come after the first part was written"
    assert main(["verify", "--store", str(store), name]) == 0
    assert main(args) == 0
    assert_exact(store, name, ok, bad)
