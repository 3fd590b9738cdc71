"""A store on a small tmpfs that fills up mid-extraction: one clear error line, nothing committed damaged,
and a rerun after space is freed completes with every id exactly once. Needs root (to mount the tmpfs)."""
import os
import subprocess

import pytest

from mmfeat import FeatureStore
from mmfeat.cli import main
from tests.conftest import write_jsonl
from tests.faults.harness import assert_exact, cli
from tests.media_factory import write_image

pytestmark = pytest.mark.slow

N_IMAGES = 150  # 150 x 3072 float32 (12 KiB a row) = 1.8 MiB of vectors, on a 4 MiB disk with 3 MiB taken


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("a full-disk test mounts a tmpfs, which needs root")
    mount = tmp_path_factory.mktemp("disk")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, small_disk):
    """An extract that runs out of space mid-way: (its CompletedProcess, args, ids, filler file)."""
    root = tmp_path_factory.mktemp("full-disk-input")
    rows = [{"id": f"i{k}", "image": str(write_image(root / f"i{k}.png", seed=k, size=(32, 32)))}
            for k in range(N_IMAGES)]
    manifest = write_jsonl(root / "m.jsonl", rows)
    spec = root / "px.yaml"
    spec.write_text("name: px\nmodality: image\ninput: {column: image}\n"
                    "encoder: {kind: pixels, size: 32, color: rgb}\n")
    filler = small_disk / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * (3 << 20))
    args = ["extract", "--store", str(small_disk / "store"), "--input", str(manifest), "--feature", str(spec),
            "--buckets", "4", "--slots", "1", "--chunk-rows", "4"]
    done = subprocess.run(cli(*args), capture_output=True, text=True, timeout=600)
    return done, args, {r["id"] for r in rows}, filler


def test_full_disk_gives_one_error_line_keeps_commits_and_a_rerun_completes(small_disk, full_run):
    done, args, ids, filler = full_run
    store = small_disk / "store"
    assert done.returncode == 1, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("mmfeat: error:")]
    assert len(errors) == 1, done.stderr[-3000:]
    assert done.stderr.rstrip().endswith(errors[0])  # the last thing on stderr
    assert str(store) in errors[0] and "no space left" in errors[0] and "intact" in errors[0], errors[0]

    kept = FeatureStore(store).read("px", columns=["id"]).num_rows
    assert 0 < kept < N_IMAGES, "the disk must fill up mid-way"
    assert main(["verify", "--store", str(store), "px"]) == 0  # with the disk still full

    filler.unlink()
    assert main(args) == 0
    assert_exact(store, "px", ids)
    report = FeatureStore(store).runs("px")[-1]
    assert report["status"] == "ok" and report["n_skipped"] == kept and report["n_ok"] == N_IMAGES - kept


def test_full_disk_prints_no_traceback(full_run):
    done = full_run[0]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
