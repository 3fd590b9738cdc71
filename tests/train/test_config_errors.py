"""Bad training configs and label files fail up front: exit 1 and one line naming the file and field."""
import subprocess
import sys

import pytest
import yaml

from mmfeat.cli import main
from tests.train.test_train_run import synthetic_store


def write_run(tmp_path, labels="labels.jsonl", column="label", **over):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"store": "store", "features": ["a", "b"], "out": "run", "epochs": 2,
                                    "labels": {"path": labels, "column": column}, **over}))
    return path


def assert_one_line_error(capsys, code, *needles):
    err = capsys.readouterr().err.strip()
    assert code == 1, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


@pytest.mark.parametrize("field, value, needle", [
    ("batch_size", 0, "batch_size: must be >= 1, got 0"),
    ("lr", -1, "lr: must be a positive number, got -1"),
    ("epochs", 0, "epochs: must be >= 1 (0 would train nothing), got 0"),
    ("dropout", 1.5, "dropout: must be in [0, 1)"),
    ("hidden", -4, "hidden: must be >= 0"),
    ("select", {"folds": 1}, "select.folds: 0 (score on the val split) or >= 2"),
    ("select", {"hidden": []}, "select.hidden: give a non-empty list of numbers"),
    ("select", {"hiden": [1]}, "select: unknown field(s) hiden"),
])
def test_out_of_range_settings_are_refused_naming_the_field(tmp_path, capsys, field, value, needle):
    path = write_run(tmp_path, **{field: value})
    assert_one_line_error(capsys, main(["train", str(path)]), str(path), needle)
    assert not (tmp_path / "run").exists()


def labels(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    return name


@pytest.mark.parametrize("name, text, over, needle", [
    ("one.csv", "id,label\n" + "".join(f"x{k},c1\n" for k in range(600)), {},
     "task multiclass needs at least two classes"),
    ("nan.csv", "id,label\n" + "".join(f"x{k},{'nan' if k == 7 else k % 3}\n" for k in range(600)),
     {"task": "regression"}, "1 target(s) are NaN or infinite (first: id 'x7')"),
    ("inf.csv", "id,label\n" + "".join(f"x{k},{'inf' if k == 3 else k % 3 + 0.5}\n" for k in range(600)), {},
     "NaN or infinite"),
    ("str.csv", "id,label\n" + "".join(f"x{k},c{k % 3}\n" for k in range(600)), {"task": "regression"},
     "task regression needs numbers, got 'c"),
    ("two.csv", "id,label\nx1,c0\nx2,c1\n", {}, "split(s) are empty (2 labelled rows"),
])
def test_bad_targets_are_refused_before_training(tmp_path, capsys, name, text, over, needle):
    synthetic_store(tmp_path)
    path = write_run(tmp_path, labels=labels(tmp_path, name, text), **over)
    assert_one_line_error(capsys, main(["train", str(path)]), needle)


def test_missing_labels_file_column_or_group_is_named(tmp_path, capsys):
    synthetic_store(tmp_path)
    path = write_run(tmp_path, labels="nowhere.csv")
    assert_one_line_error(capsys, main(["train", str(path)]), "nowhere.csv: file not found (labels.path)")
    path = write_run(tmp_path, column="target")
    assert_one_line_error(capsys, main(["train", str(path)]), "no column(s) 'target' named in labels")
    path.write_text(yaml.safe_dump({"store": "store", "features": ["a"], "out": "run",
                                    "labels": {"path": "labels.jsonl", "column": "label", "group_column": "who"}}))
    assert_one_line_error(capsys, main(["train", str(path)]), "'who' named in labels")


@pytest.mark.slow
def test_a_bad_csv_config_exits_1_every_time_never_134(tmp_path):
    """pyarrow's CSV reader on an fsspec file object aborted the process now and then (SIGABRT, exit 134)."""
    synthetic_store(tmp_path)
    path = write_run(tmp_path, labels=labels(tmp_path, "bad.csv", "id,label\n" + "".join(
        f"x{k},c{k % 3}\n" for k in range(600))), column="missing")
    codes = []
    for _ in range(8):
        done = subprocess.run([sys.executable, "-m", "mmfeat.cli", "train", str(path)], capture_output=True,
                              text=True, timeout=120)
        codes.append(done.returncode)
        assert "no column(s) 'missing'" in done.stderr
    assert codes == [1] * 8
