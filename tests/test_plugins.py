"""Plugins with no change to mmfeat: an installed package's entry points, and ``--plugin MODULE``."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from mmfeat import FeatureStore
from tests.conftest import REPO, write_jsonl

PLUGINS = REPO / "tests" / "plugins"
ROWS = [{"id": "a", "text": "Hello plugin world"}, {"id": "b", "text": "aaa bb c"}, {"id": "digits", "text": "12345"}]


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory) -> Path:
    """``tests/plugins/charhist`` pip-installed into a directory of its own (the shared venv is not touched)."""
    work = tmp_path_factory.mktemp("plugin-build")
    source = shutil.copytree(PLUGINS / "charhist", work / "charhist")  # the build leaves files beside the source
    site = work / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--no-build-isolation", "--target", str(site), str(source)], check=True)
    return site


def mmfeat(*args, paths=(), cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *map(str, paths)])}
    env.pop("MMFEAT_PLUGINS", None)
    return subprocess.run([sys.executable, "-m", "mmfeat.cli", *map(str, args)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def feature(tmp_path, kind, **params) -> Path:
    spec = {"name": kind.replace("-", "_"), "modality": "text", "input": {"column": "text"},
            "encoder": {"kind": kind, **params}}
    path = tmp_path / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def letter_histogram(text):
    counts = np.array([text.lower().count(c) for c in "abcdefghijklmnopqrstuvwxyz"], np.float32)
    return counts / counts.sum()


@pytest.mark.slow
def test_an_installed_plugin_package_runs_through_mmfeat_extract(tmp_path, plugin_site):
    manifest = write_jsonl(tmp_path / "m.jsonl", ROWS)
    done = mmfeat("extract", "--store", tmp_path / "store", "--input", manifest,
                  "--feature", feature(tmp_path, "char-hist"), paths=[plugin_site])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["n_ok"] == 2
    store = FeatureStore(tmp_path / "store")
    ids, vectors = store.to_numpy("char_hist")
    got = dict(zip(ids, vectors))
    for row in ROWS[:2]:
        np.testing.assert_allclose(got[row["id"]], letter_histogram(row["text"]), rtol=1e-6)
    assert store.errors("char_hist").to_pylist()[0]["reason"] == "no letters to count"


def test_without_the_package_the_kind_is_unknown_and_the_message_says_how_to_add_it(tmp_path):
    manifest = write_jsonl(tmp_path / "m.jsonl", ROWS)
    done = mmfeat("extract", "--store", tmp_path / "store", "--input", manifest,
                  "--feature", feature(tmp_path, "char-hist"))
    assert done.returncode == 1
    assert "unknown encoder 'char-hist'" in done.stderr and "--plugin MODULE" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_plugin_option_imports_a_module_before_the_command(tmp_path):
    manifest = write_jsonl(tmp_path / "m.jsonl", ROWS)
    spec = feature(tmp_path, "word-len", longest=4)
    done = mmfeat("extract", "--plugin", "wordlen_plugin", "--store", tmp_path / "store", "--input", manifest,
                  "--feature", spec, paths=[PLUGINS])
    assert done.returncode == 0, done.stderr
    got = dict(zip(*FeatureStore(tmp_path / "store").to_numpy("word_len")))
    np.testing.assert_allclose(got["b"], [1 / 3, 1 / 3, 1 / 3, 0])
    np.testing.assert_allclose(got["digits"], [0, 0, 0, 1])


def test_plugin_option_is_accepted_before_and_after_the_command_and_a_bad_one_fails_cleanly(tmp_path):
    from mmfeat.cli import parser

    args = parser().parse_args(["--plugin", "a", "ls", "--store", "s", "--plugin", "b"])
    assert (args.plugins, args.more_plugins) == (["a"], ["b"])
    done = mmfeat("--plugin", "no_such_plugin_module", "ls", "--store", tmp_path)
    assert done.returncode == 1
    assert "plugin 'no_such_plugin_module' cannot be imported" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture
def scratch_registries(monkeypatch):
    """Registrations and loaded plugins made by a test are undone after it."""
    from mmfeat import plugins
    from mmfeat.encoders import ENCODERS
    from mmfeat.train.fusion import FUSIONS

    for registry in (ENCODERS, FUSIONS):
        monkeypatch.setattr(registry, "_classes", dict(registry._classes))
    monkeypatch.setattr(plugins, "_loaded", [])
    monkeypatch.setenv(plugins.ENV, "")  # recorded, so whatever the test sets is undone
    monkeypatch.delenv(plugins.ENV)
    return ENCODERS, FUSIONS


def test_entry_points_are_listed_without_import_and_loaded_on_lookup(plugin_site, monkeypatch, scratch_registries):
    encoders, fusions = scratch_registries
    monkeypatch.syspath_prepend(str(plugin_site))
    for module in ("mmfeat_charhist", "mmfeat_charhist.fusion"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    assert "char-hist" in encoders.names() and "plugin-mean" in fusions.names()
    assert "mmfeat_charhist" not in sys.modules  # listing a name imports nothing
    assert fusions.get("plugin-mean").__name__ == "PluginMeanFusion"
    assert encoders.get("char-hist").registry_name == "char-hist"


def test_an_entry_point_that_registers_nothing_is_named_in_the_error(tmp_path, monkeypatch, scratch_registries):
    encoders, _ = scratch_registries
    dist = tmp_path / "ghost-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ghost\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[mmfeat.encoders]\nghost = json\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(KeyError, match="entry point 'json' of package ghost .* registers no encoder"):
        encoders.get("ghost")


def test_modules_loaded_by_a_parent_process_are_found_through_the_environment(monkeypatch, scratch_registries):
    from mmfeat import plugins

    encoders, _ = scratch_registries
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.delitem(sys.modules, "wordlen_plugin", raising=False)
    plugins.load_plugins(["wordlen_plugin"])
    assert os.environ[plugins.ENV] == "wordlen_plugin" and plugins.loaded_plugins() == ["wordlen_plugin"]
    # A child process (a local multi-process worker) starts with an empty registry and the inherited variable.
    monkeypatch.setattr(plugins, "_loaded", [])
    monkeypatch.delitem(sys.modules, "wordlen_plugin")
    encoders._classes.pop("word-len")
    assert encoders.get("word-len").__name__ == "WordLenEncoder"


@pytest.mark.slow
def test_an_installed_plugin_fusion_trains_through_mmfeat_train(tmp_path, plugin_site):
    from tests.train.test_train_run import synthetic_store

    synthetic_store(tmp_path, n=200)
    run = {"store": str(tmp_path / "store"), "features": ["a", "b"], "out": str(tmp_path / "run"),
           "labels": {"path": str(tmp_path / "labels.jsonl"), "column": "label", "split_column": "split"},
           "fusion": "plugin-mean", "epochs": 3, "hidden": 8}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(run))
    done = mmfeat("train", tmp_path / "run.yaml", "--quiet", paths=[plugin_site])
    assert done.returncode == 0, done.stderr
    assert "accuracy" in json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]
    refused = mmfeat("train", tmp_path / "run.yaml", "--quiet")
    assert refused.returncode == 1 and "unknown 'plugin-mean'" in refused.stderr
