"""``mmfeat run``: a real job (extract, train, predict), its report, a free rerun, failures and exit codes."""
import json
from pathlib import Path

import pytest
import yaml

from mmfeat import FeatureStore
from mmfeat.cli import main
from tests.conftest import write_jsonl
from tests.jobs.job_factory import labelled, make_job

pytestmark = pytest.mark.slow


def last_report(root: Path, job: str = "job") -> dict:
    reports = [json.loads(p.read_text()) for p in (root / "store" / "_jobs" / job / "runs").glob("*.json")]
    return max(reports, key=lambda r: r["started_at"])  # run ids sort by the second only


def steps(report: dict) -> dict:
    return {f"{s['kind']} {s['name']}": s for s in report["steps"]}


def snapshot(folder: Path) -> dict:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*")} if folder.exists() else {}


def test_a_job_runs_in_order_and_an_unchanged_rerun_loads_no_model(tmp_path, tiny_bert, capsys):
    job = make_job(tmp_path, tiny_bert)
    assert main(["run", str(job)]) == 0
    report = last_report(tmp_path)
    assert report["status"] == "ok" and report["exit_code"] == 0 and report["finished_at"] >= report["started_at"]
    assert [f"{s['kind']} {s['name']}" for s in report["steps"]] == [
        "extract tiny_a", "extract tiny_b", "train fusion", "predict fusion_probs"]
    by_id = steps(report)
    for name in ("extract tiny_a", "extract tiny_b"):
        assert by_id[name]["counts"] == {"n_input": 24, "n_ok": 24, "n_error": 0, "n_skipped": 0, "n_encoded": 24}
        assert by_id[name]["model_loaded"] and by_id[name]["exit_status"] == 0 and by_id[name]["seconds"] > 0
    assert by_id["train fusion"]["status"] == "ok" and (tmp_path / "runs" / "fusion" / "metrics.json").exists()
    assert by_id["predict fusion_probs"]["counts"] == {"n_rows": 24}
    store = FeatureStore(tmp_path / "store")
    assert store.list() == ["fusion_probs", "tiny_a", "tiny_b"] and store.counts("fusion_probs")["rows"] == 24

    assert main(["run", str(job)]) == 0
    rerun = steps(last_report(tmp_path))
    for name in ("extract tiny_a", "extract tiny_b"):
        assert rerun[name]["counts"]["n_skipped"] == 24 and rerun[name]["counts"]["n_encoded"] == 0
        assert rerun[name]["model_loaded"] is False
    for name in ("train fusion", "predict fusion_probs"):
        assert rerun[name]["status"] == "skipped" and rerun[name]["model_loaded"] is False
        assert report["run_id"] in rerun[name]["reason"]

    # New rows: the dry run sees them and the steps they reach, and writes nothing.
    write_jsonl(tmp_path / "data" / "texts.jsonl", labelled(28))
    before = snapshot(tmp_path / "store")
    capsys.readouterr()
    assert main(["run", str(job), "--dry-run", "--json"]) == 0
    assert snapshot(tmp_path / "store") == before
    plan = {f"{s['kind']} {s['name']}": s for s in json.loads(capsys.readouterr().out)}
    assert plan["extract tiny_a"]["counts"] == {"new": 4, "changed": 0, "stored": 24, "bad": 0, "duplicate": 0,
                                                "rows": 28}
    assert plan["train fusion"]["would_run"] and "extract tiny_a" in plan["train fusion"]["why"]
    assert plan["predict fusion_probs"]["would_run"]


def test_dry_run_counts_new_changed_stored_and_bad_rows(tmp_path, tiny_bert, capsys):
    job = make_job(tmp_path, tiny_bert, train=False, n=10)
    raw = yaml.safe_load(job.read_text())
    raw["features"] = [{**raw["features"][0], "max_error_rate": 0.01}]
    job.write_text(yaml.safe_dump(raw))
    rows = labelled(10)
    write_jsonl(tmp_path / "data" / "texts.jsonl", rows + [{"id": "e1", "text": "  "}])

    assert main(["run", str(job), "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan[0]["counts"] == {"new": 10, "changed": 0, "stored": 0, "bad": 1, "duplicate": 0, "rows": 11}
    assert not (tmp_path / "store").exists()  # a dry run creates nothing

    assert main(["run", str(job)]) == 3  # 1 of 11 rows failed: above max_error_rate 0.01
    report = last_report(tmp_path)
    assert report["status"] == "error_rate" and report["exit_code"] == 3
    assert steps(report)["extract tiny_a"]["status"] == "error_rate"
    assert "exceeds max_error_rate 0.01" in steps(report)["extract tiny_a"]["error"]
    capsys.readouterr()

    changed = [{**r, "text": r["text"] + " changed"} for r in rows[:2]]
    write_jsonl(tmp_path / "data" / "texts.jsonl",
                changed + rows[2:] + labelled(3, offset=10) + [{"id": "e1", "text": "  "}, "{not json", rows[5]])
    before = snapshot(tmp_path / "store")
    assert main(["run", str(job), "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan[0]["counts"] == {"new": 3, "changed": 2, "stored": 8, "bad": 2, "duplicate": 1, "rows": 16}
    assert snapshot(tmp_path / "store") == before

    assert main(["run", str(job)]) == 3
    counts = steps(last_report(tmp_path))["extract tiny_a"]["counts"]
    assert counts["n_input"] == 16 and counts["n_encoded"] == 5  # exactly the new and changed rows


def test_a_failed_step_blocks_its_dependents_and_the_job_exits_1(tmp_path, tiny_bert):
    job = make_job(tmp_path, tiny_bert)
    raw = yaml.safe_load(job.read_text())
    raw["features"][1]["inputs"] = ["data/missing.jsonl"]
    job.write_text(yaml.safe_dump(raw))
    assert main(["run", str(job)]) == 1
    report = last_report(tmp_path)
    by_id = steps(report)
    assert report["status"] == "failed" and report["exit_code"] == 1
    assert by_id["extract tiny_a"]["status"] == "ok"  # independent of the failure: it ran
    assert by_id["extract tiny_b"]["status"] == "failed" and "missing.jsonl" in by_id["extract tiny_b"]["error"]
    assert by_id["train fusion"]["status"] == "blocked" and "extract tiny_b" in by_id["train fusion"]["error"]
    assert by_id["predict fusion_probs"]["status"] == "blocked"
