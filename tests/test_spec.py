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
