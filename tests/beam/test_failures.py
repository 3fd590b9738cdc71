"""A failed Beam job comes back as the one mmfeat error line that caused it."""
import errno

from mmfeat import FeatureStore
from mmfeat.beam.failures import job_error
from mmfeat.cli import main
from mmfeat.errors import CommitConflictError, StoreError
from tests.conftest import sentences, write_jsonl, write_spec


def test_a_wrapped_worker_error_is_unwrapped_to_its_mmfeat_error():
    wrapped = RuntimeError("Traceback (most recent call last):\n  File \"x.py\", line 1\n"
                           "mmfeat.errors.CommitConflictError: set: bucket 3 kept changing under this run "
                           "[while running 'ExtractUnits']")
    error = job_error(wrapped, "/store")
    assert isinstance(error, CommitConflictError) and str(error).startswith("set: bucket 3 kept changing")
    plain = ValueError("a bug")
    assert job_error(plain, "/store") is plain  # not ours: the traceback stays


def test_a_full_disk_names_the_store_and_says_what_is_intact():
    error = job_error(OSError(errno.ENOSPC, "No space left on device"), "/data/store")
    assert isinstance(error, StoreError) and "/data/store: no space left" in str(error)
    assert "intact" in str(error)


def test_a_model_that_cannot_load_is_one_line_and_a_failed_first_run_registers_nothing(tmp_path, capsys):
    spec = write_spec(tmp_path / "broken.yaml", tmp_path / "no-such-model-dir")
    manifest = str(write_jsonl(tmp_path / "m.jsonl", sentences(3)))
    code = main(["extract", "--store", str(tmp_path / "store"), "--input", manifest, "--feature", str(spec)])
    err = capsys.readouterr().err
    assert code == 1 and "no-such-model-dir" in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("mmfeat: error")]) == 1
    assert FeatureStore(tmp_path / "store").list() == []
    [report] = (tmp_path / "store" / "tiny_text" / "runs").glob("*.json")
    assert '"status": "failed"' in report.read_text()
