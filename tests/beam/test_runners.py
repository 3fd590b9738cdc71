"""The runner is chosen deliberately; options nobody knows and bad runner names are usage errors."""
import subprocess
import sys

import pytest

from mmfeat.beam import runners
from mmfeat.beam.extract_job import extract
from mmfeat.cli import main
from mmfeat.errors import UsageError
from tests.conftest import sentences, write_jsonl


def test_the_default_runner_is_the_fn_api_runner_and_never_prism(tmp_path, tiny_spec, monkeypatch):
    from apache_beam.runners.portability import prism_runner
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    runner, argv = runners.resolve(["--direct_num_workers=1"])
    assert isinstance(runner, fn_runner.FnApiRunner) and argv == ["--direct_num_workers=1"]

    def no_prism(*args, **kwargs):
        raise AssertionError("the Prism runner must not be started")

    monkeypatch.setattr(prism_runner.PrismRunner, "run_pipeline", no_prism)
    report = extract(tiny_spec, tmp_path / "store", str(write_jsonl(tmp_path / "m.jsonl", sentences(5))),
                     beam_args=["--runner=DirectRunner"])
    assert report["n_ok"] == 5


def test_dask_alias_and_bad_names_and_options():
    runner, argv = runners.resolve(["--runner=DaskRunner"])
    assert runner == "apache_beam.runners.dask.dask_runner.DaskRunner" and argv[0] == f"--runner={runner}"
    with pytest.raises(UsageError, match="not a Beam runner"):
        runners.resolve(["--runner", "NoSuchRunner"])
    with pytest.raises(UsageError, match="did you mean --direct_num_workers"):
        runners.resolve(["--direct_num_worker=2"])
    assert runners.with_partitions(runner, argv, 3)[-1] == "--dask_npartitions=3"
    assert runners.with_partitions(runner, [*argv, "--dask_npartitions=9"], 3)[-1] == "--dask_npartitions=9"


def test_cli_usage_errors_exit_2_with_one_line_and_snake_case_options_work(tmp_path, tiny_spec, capsys):
    manifest = str(write_jsonl(tmp_path / "m.jsonl", sentences(3) + [{"id": "bad", "text": ""}]))
    base = ["extract", "--store", str(tmp_path / "store"), "--input", manifest, "--feature", str(tiny_spec)]
    assert main([*base, "--max-eror-rate=0.1"]) == 2
    err = capsys.readouterr().err
    assert "did you mean --max-error-rate" in err and "Traceback" not in err
    assert main([*base, "--runner=Nope"]) == 2
    assert not (tmp_path / "store" / "tiny_text").exists()  # nothing registered by a run that never started
    assert main([*base, "--max_error_rate=0.1"]) == 3  # Airflow's snake_case form is mmfeat's option
    assert "exceeds --max-error-rate 0.1" in capsys.readouterr().err


def test_a_run_where_every_row_failed_exits_3(tmp_path, tiny_spec, capsys):
    manifest = str(write_jsonl(tmp_path / "m.jsonl", [{"id": f"e{k}", "text": ""} for k in range(4)]))
    assert main(["extract", "--store", str(tmp_path / "s"), "--input", manifest, "--feature", str(tiny_spec)]) == 3
    assert "every one of the 4 input rows failed" in capsys.readouterr().err


def test_extract_leaves_no_temp_directories_behind(tmp_path, tiny_spec):
    tmpdir = tmp_path / "systemtmp"
    tmpdir.mkdir()
    manifest = str(write_jsonl(tmp_path / "m.jsonl", sentences(4)))
    cmd = [sys.executable, "-m", "mmfeat.cli", "extract", "--store", str(tmp_path / "store"), "--input", manifest,
           "--feature", str(tiny_spec)]
    import os

    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TMPDIR": str(tmpdir)})
    assert done.returncode == 0, done.stderr
    assert list(tmpdir.iterdir()) == []
