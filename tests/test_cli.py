"""The mmfeat command line, run as a user would: a subprocess with real files."""
import json
import subprocess
import sys

import pandas as pd

from tests.conftest import sentences, write_jsonl


def mmfeat(*args):
    return subprocess.run([sys.executable, "-m", "mmfeat.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_extract_ls_show_read_and_exit_codes(tmp_path, tiny_spec):
    manifest = write_jsonl(tmp_path / "m.jsonl", sentences(20) + [{"id": "bad", "text": ""}])
    store = tmp_path / "store"
    run = mmfeat("extract", "--store", store, "--input", manifest, "--feature", tiny_spec)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["n_ok"] == 20

    strict = mmfeat("extract", "--store", store, "--input", manifest, "--feature", tiny_spec,
                    "--max-error-rate", "0.01")
    assert strict.returncode == 3 and "exceeds --max-error-rate" in strict.stderr

    header, line = mmfeat("ls", "--store", store).stdout.splitlines()
    assert header.split()[:6] == ["NAME", "MODALITY", "DIM", "DTYPE", "ROWS", "ERRORS"]
    assert line.split()[:6] == ["tiny_text", "text", "32", "float", "20", "1"] and "ok" in line.split()
    [listed] = json.loads(mmfeat("ls", "--store", store, "--json").stdout)
    assert listed["last_error_rate"] == round(1 / 21, 6) and listed["bytes"] > 0
    shown = json.loads(mmfeat("show", "tiny_text", "--store", store, "--runs", "1").stdout)
    assert shown["counts"]["rows"] == 20 and shown["model_identity"]["weights_sha256"]
    assert len(shown["runs (last 1 of 2)"]) == 1 and shown["runs (last 1 of 2)"][0]["status"] == "ok"
    assert shown["current_errors"] == {"total": 1, "by_reason": {"validate: text is empty": 1}, "other_reasons": 0}

    assert mmfeat("read", "tiny_text", "--store", store, "--out", tmp_path / "v.parquet").returncode == 0
    assert len(pd.read_parquet(tmp_path / "v.parquet")) == 20
    assert mmfeat("read", "tiny_text", "--store", store, "--errors", "--out", tmp_path / "e.csv").returncode == 0
    assert pd.read_csv(tmp_path / "e.csv")["id"].tolist() == ["bad"]
    assert mmfeat("verify", "tiny_text", "--store", store).stdout.strip() == "ok"


def test_job_level_failures_exit_1_with_the_file_named(tmp_path, tiny_spec):
    run = mmfeat("extract", "--store", tmp_path / "s", "--input", tmp_path / "missing.jsonl", "--feature", tiny_spec)
    assert run.returncode == 1 and "missing.jsonl: no manifest file matches" in run.stderr
    (tmp_path / "bad.yaml").write_text("name: x\nmodality: text\ninput: {column: text}\nencoder: {kind: hf-text}\n")
    run = mmfeat("extract", "--store", tmp_path / "s", "--input", tmp_path / "m.jsonl", "--feature",
                 tmp_path / "bad.yaml")
    assert run.returncode == 1 and "bad.yaml: encoder.model: required field is missing" in run.stderr
    assert mmfeat("extract", "--store", tmp_path / "s").returncode == 2  # usage


def test_pipelines_entry_point_is_the_same_job(tmp_path, tiny_spec):
    from tests.conftest import REPO

    manifest = write_jsonl(tmp_path / "m.jsonl", sentences(5))
    run = subprocess.run([sys.executable, REPO / "pipelines" / "extract.py", "--store", tmp_path / "store",
                          "--input", manifest, "--feature", tiny_spec, "--runner=DirectRunner"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr and json.loads(run.stdout)["n_ok"] == 5
