"""Job files: paths resolved against the job file, errors naming the file and the field, step order."""
import pytest
import yaml

from mmfeat.errors import SpecError
from mmfeat.jobs.spec import load_job
from mmfeat.jobs.steps import build_steps
from tests.jobs.job_factory import make_job


def rewrite(path, **over):
    raw = yaml.safe_load(path.read_text())
    raw.update(over)
    path.write_text(yaml.safe_dump(raw))
    return path


def test_paths_resolve_against_the_job_file(tmp_path, tiny_bert, monkeypatch):
    job_file = make_job(tmp_path / "jobs", tiny_bert)
    monkeypatch.chdir(tmp_path)  # the current directory must not matter
    job = load_job(job_file)
    assert job.name == "job" and job.store == str(tmp_path / "jobs" / "store")
    assert job.features[0].inputs == [str(tmp_path / "jobs" / "data" / "texts.jsonl")]
    assert [s.name for s in job.specs] == ["tiny_a", "tiny_b"]
    assert job.train[0].name == "fusion" and job.predict[0].train == "fusion"


@pytest.mark.parametrize("over, message", [
    ({"stor": "x"}, "unknown field(s) stor"),
    ({"features": [{"feature": "tiny_a.yaml"}]}, "features[0].inputs: required field is missing"),
    ({"features": [{"feature": "tiny_a.yaml", "inputs": "data/texts.jsonl"}]}, "features[0].inputs: expected list"),
    ({"features": [{"feature": "tiny_a.yaml", "inputs": ["x"], "max_error_rate": 2}]}, "max_error_rate must be in"),
    ({"features": [{"feature": "missing.yaml", "inputs": ["x"]}]}, "features[0].feature:"),
    ({"features": [{"feature": "tiny_a.yaml", "inputs": ["x"]}, {"feature": "tiny_a.yaml", "inputs": ["y"]}]},
     "feature set 'tiny_a' appears twice"),
    ({"predict": [{"train": "nope", "name": "p"}]}, "predict[0].train: no train step named 'nope'"),
    ({"predict": [{"train": "fusion", "run": "runs/x", "name": "p"}]}, "give exactly one of train"),
    ({"predict": [{"train": "fusion", "name": "tiny_a"}]}, "feature set 'tiny_a' appears twice"),
    ({"name": "../evil"}, "name '../evil' must match"),
    ({"features": [], "train": [], "predict": []}, "the job has no steps"),
    ({"beam_args": "--runner=DirectRunner"}, "beam_args: expected list"),
])
def test_bad_job_files_name_the_file_and_field(tmp_path, tiny_bert, over, message):
    job_file = rewrite(make_job(tmp_path, tiny_bert), **over)
    with pytest.raises(SpecError) as info:
        load_job(job_file)
    assert str(job_file) in str(info.value) and message in str(info.value)


def test_unsafe_yaml_is_refused(tmp_path):
    job_file = tmp_path / "job.yaml"
    job_file.write_text("store: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(SpecError, match="refused YAML"):
        load_job(job_file)


def test_steps_run_in_dependency_order(tmp_path, tiny_bert):
    job_file = make_job(tmp_path, tiny_bert)
    # A second model reads the first one's predictions: it must run after that predict step.
    (tmp_path / "stacked.yaml").write_text(yaml.safe_dump({
        "store": "store", "features": ["fusion_probs", "tiny_a"], "out": "runs/stacked",
        "labels": {"path": "data/texts.jsonl", "column": "label"}}))
    raw = yaml.safe_load(job_file.read_text())
    raw["train"].insert(0, {"config": "stacked.yaml"})  # listed first on purpose
    job_file.write_text(yaml.safe_dump(raw))
    order = [s.id for s in build_steps(load_job(job_file))]
    assert order == ["extract tiny_a", "extract tiny_b", "train fusion", "predict fusion_probs", "train stacked"]


def test_a_circle_of_steps_is_refused(tmp_path, tiny_bert):
    job_file = make_job(tmp_path, tiny_bert)
    (tmp_path / "train.yaml").write_text(yaml.safe_dump({
        "store": "store", "features": ["tiny_a", "fusion_probs"], "out": "runs/fusion",
        "labels": {"path": "data/texts.jsonl", "column": "label"}}))
    with pytest.raises(SpecError, match="in a circle: train fusion, predict fusion_probs"):
        build_steps(load_job(job_file))
