"""Feature specs: the bundled YAML, field-naming errors, what the fingerprint covers."""
import pytest

from mmfeat.errors import SpecError
from mmfeat.spec import FeatureSpec, load_spec
from tests.conftest import REPO, make_tiny_bert, write_spec


def test_bundled_minilm_spec_loads():
    spec = load_spec(REPO / "features" / "text_minilm.yaml")
    assert (spec.name, spec.modality, spec.input.column) == ("text_minilm", "text", "text")
    assert spec.encoder.params.normalize and spec.encoder.params.pooling == "mean"
    assert FeatureSpec.from_dict(spec.to_dict(), origin="x") == spec


BASE = {"name": "t", "modality": "text", "input": {"column": "text"}, "encoder": {"kind": "hf-text", "model": "m"}}


@pytest.mark.parametrize("change, fragment", [
    ({"colour": "red"}, "unknown field(s) colour"),
    ({"encoder": {"kind": "hf-text"}}, "encoder.model: required field is missing"),
    ({"encoder": {"kind": "hf-text", "model": "m", "pooling": "median"}}, "encoder.pooling: expected one of"),
    ({"encoder": {"kind": "hf-text", "model": "m", "max_length": "long"}}, "encoder.max_length: expected int"),
    ({"encoder": {"kind": "hf-text", "model": "m", "max_length": 1}}, "max_length must be >= 2"),
    ({"encoder": {"kind": "nope"}}, "unknown encoder 'nope'"),
    ({"modality": "audio"}, "does not match encoder 'hf-text'"),
    ({"name": "../escape"}, "name '../escape' must match"),
    ({"batching": {"max_cost": 0}}, "max_cost and max_batch_size must be >= 1"),
    ({"input": {"id_column": "id"}}, "input.column: required field is missing"),
])
def test_bad_fields_are_named(change, fragment):
    with pytest.raises(SpecError, match="my.yaml") as err:
        FeatureSpec.from_dict({**BASE, **change}, origin="my.yaml")
    assert fragment in str(err.value)


def test_invalid_yaml_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="broken.yaml: not valid YAML"):
        load_spec(path)


def test_fingerprint_covers_output_not_speed(tmp_path, tiny_bert):
    base = load_spec(write_spec(tmp_path / "a.yaml", tiny_bert)).fingerprint()
    spec = write_spec(tmp_path / "b.yaml", tiny_bert)
    text = spec.read_text().replace("max_cost: 2048", "max_cost: 999").replace("max_batch_size: 64",
                                                                                "max_batch_size: 3")
    spec.write_text(text)
    assert load_spec(spec).fingerprint() == base
    assert load_spec(write_spec(tmp_path / "c.yaml", tiny_bert, pooling="max")).fingerprint() != base
    assert load_spec(write_spec(tmp_path / "d.yaml", tiny_bert, normalize=False)).fingerprint() != base
    other_weights = make_tiny_bert(tmp_path / "other", seed=1)
    assert load_spec(write_spec(tmp_path / "e.yaml", other_weights)).fingerprint() != base
    # The weights' identity is their content, not where they are installed.
    moved = make_tiny_bert(tmp_path / "moved", seed=0)
    assert load_spec(write_spec(tmp_path / "f.yaml", moved)).fingerprint() == base


def test_fingerprints_of_shipped_specs_are_stable():
    """Stores written by earlier versions must keep matching: a new encoder parameter left at its
    default must not change the fingerprint (see ``Encoder.added_params``)."""
    spec = load_spec(REPO / "features" / "text_minilm.yaml")
    assert spec.fingerprint({"weights_sha256": "w"}) == "14c57a55d950fd146055dc03ecce6b7e019c5c20e1dbde575dea7ea638a2479e"
    chunked = FeatureSpec.from_dict({**spec.to_dict(), "encoder": {**spec.to_dict()["encoder"], "overflow": "chunk",
                                                                   "keep_chunks": True}})
    assert chunked.fingerprint({"weights_sha256": "w"}) != spec.fingerprint({"weights_sha256": "w"})


HEAD = "name: t\nmodality: text\ninput: {column: text}\nencoder: {kind: hf-text, model: m}\n"


def alias_bomb(levels: int = 9) -> str:
    text, prev = 'description:\n  a: &a ["x","x","x","x","x","x","x","x","x"]\n', "a"
    for name in "bcdefghijk"[:levels - 1]:
        text += f"  {name}: &{name} [{', '.join(['*' + prev] * 9)}]\n"
        prev = name
    return HEAD + text


def test_alias_bomb_is_refused_quickly(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    assert path.stat().st_size < 1000
    with pytest.raises(SpecError, match="bomb.yaml: YAML expands to more than"):
        load_spec(path)


@pytest.mark.parametrize("body,fragment", [
    (HEAD + "description: !!python/object/apply:os.system ['true']\n", "refused YAML"),
    (HEAD + "description: [a, b]\n", "description must be a string"),
    (HEAD + "description: " + "x" * 5000 + "\n", "description must be a string of at most 4096"),
    (HEAD + "batching: {max_cost: many}\n", "batching.max_cost: expected int"),
    (HEAD + "input: {column: text, colour: red}\n", "input: unknown field(s) colour"),
    (HEAD + "input: {column: text, shard_bytes: 0}\n", "shard_bytes must be in"),
    (HEAD + "input: {column: text, encoding: klingon}\n", "unknown encoding"),
    ("- " * 100 + "x\n", "nests deeper than"),
])
def test_hostile_yaml_is_a_spec_error_naming_the_file(tmp_path, body, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(SpecError, match="bad.yaml") as err:
        load_spec(path)
    assert fragment in str(err.value)


def test_package_models_import_only_model_packages(tmp_path, monkeypatch):
    (tmp_path / "sneaky.py").write_text(f"open({str(tmp_path / 'imported')!r}, 'w').close()\n"
                                        "def get_model_path(): return '/'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = FeatureSpec.from_dict({**BASE, "encoder": {"kind": "hf-text", "model": "package:sneaky"}})
    with pytest.raises(SpecError, match="'package:sneaky' is not a model package"):
        spec.identity()
    assert not (tmp_path / "imported").exists()


def test_package_models_declared_by_entry_point_are_loaded(tmp_path, monkeypatch, tiny_bert):
    (tmp_path / "my_weights.py").write_text(f"def get_model_path(): return {str(tiny_bert)!r}\n")
    info = tmp_path / "my_weights-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-weights\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[mmfeat.models]\nmy_weights = my_weights:get_model_path\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = FeatureSpec.from_dict({**BASE, "encoder": {"kind": "hf-text", "model": "package:my_weights"}})
    direct = FeatureSpec.from_dict({**BASE, "encoder": {"kind": "hf-text", "model": str(tiny_bert)}})
    assert spec.identity() == direct.identity()


def test_relative_model_path_resolves_against_the_yaml_not_the_cwd(tmp_path, monkeypatch, tiny_bert):
    import shutil

    project = tmp_path / "project"
    shutil.copytree(tiny_bert, project / "models" / "bert")
    (project / "features").mkdir()
    for name, ref in (("a.yaml", "../models/bert"), ("b.yaml", "./../models/bert")):
        (project / "features" / name).write_text(HEAD.replace("model: m", f"model: {ref}"))
    (project / "c.yaml").write_text(HEAD.replace("model: m", "model: models/bert"))
    (project / "d.yaml").write_text(HEAD.replace("model: m", "model: ./missing"))
    monkeypatch.chdir(tmp_path)
    want = str((project / "models" / "bert").resolve())
    for path in (project / "features" / "a.yaml", project / "features" / "b.yaml", project / "c.yaml"):
        assert load_spec(path).encoder.params.model == want
    with pytest.raises(SpecError, match="d.yaml: encoder.model: './missing' does not exist"):
        load_spec(project / "d.yaml")
    hub = load_spec(write_spec(tmp_path / "e.yaml", "org/name")).encoder.params.model
    assert hub == "org/name"
