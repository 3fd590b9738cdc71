"""``EncoderModelHandler`` under Beam's own ``RunInference`` on the DirectRunner, with a tiny BERT."""
import apache_beam as beam
import numpy as np
import pytest
from apache_beam.ml.inference.base import RunInference
from apache_beam.testing.util import assert_that, equal_to

from mmfeat.beam import EncoderModelHandler
from mmfeat.extract.encoding import encode_values
from mmfeat.spec import load_spec
from tests.conftest import sentences, write_spec

TEXTS = [r["text"] for r in sentences(25)]


def reference(spec_path, texts):
    spec = load_spec(spec_path)
    encoder = spec.create_encoder()
    encoder.load()
    result = encode_values(encoder, texts, spec.batching)
    return {text: result.vectors[i] for i, text in enumerate(texts)}


def matches(expected):
    def check(results):
        got = {r.example: r.inference for r in results}
        assert got.keys() == expected.keys()
        for text, vector in expected.items():
            np.testing.assert_allclose(got[text], vector, rtol=1e-4, atol=1e-5)
        assert {r.model_id for r in results} == {"tiny_text"}
    return check


def test_run_inference_gives_the_same_vectors_as_extraction(tiny_spec):
    expected = reference(tiny_spec, TEXTS)
    with beam.Pipeline() as p:
        results = p | beam.Create(TEXTS) | RunInference(EncoderModelHandler(str(tiny_spec), max_batch_weight=300))
        assert_that(results, matches(expected))


def test_bad_rows_go_to_the_dead_letter_output_one_by_one(tiny_spec):
    good = TEXTS[:6]
    bad = ["", None, 42, "word " * 200]  # empty, null, not a string, over max_length=64 tokens
    expected = reference(tiny_spec, good)
    with beam.Pipeline() as p:
        main, other = (p | beam.Create(good + bad)
                       | RunInference(EncoderModelHandler(str(tiny_spec))).with_exception_handling())
        assert_that(main, matches(expected), label="good")
        dead = other.failed_preprocessing[0] | beam.MapTuple(lambda row, error: (row, str(error)))
        assert_that(dead | beam.Map(lambda e: e[0]), equal_to(bad), label="bad rows")
        assert_that(dead | beam.Map(lambda e: any(s in e[1] for s in ("empty", "missing", "not a string",
                                                                       "max_length"))),
                    equal_to([True] * 4), label="reasons")
        assert_that(other.failed_inferences, equal_to([]), label="no failed batch")


def test_beam_batches_are_bounded_by_summed_cost(tmp_path, tiny_bert):
    spec_path = write_spec(tmp_path / "s.yaml", tiny_bert, max_length=64)
    handler = EncoderModelHandler(str(spec_path), max_batch_weight=60)
    prepare = handler.get_preprocess_fns()[0]
    costs = {text: prepare(text)[2] for text in TEXTS}
    assert set(costs.values()) != {1} and max(costs.values()) < 60
    with beam.Pipeline() as p:
        weights = (p | beam.Create(TEXTS) | beam.Map(prepare) | beam.BatchElements(**handler.batch_elements_kwargs())
                   | beam.Map(lambda batch: sum(cost for _, _, cost in batch)))
        assert_that(weights | beam.combiners.Count.Globally(), _more_than_one, label="batches")
        assert_that(weights | beam.Filter(lambda w: w > 60), equal_to([]), label="within budget")


def _more_than_one(counts):
    assert len(counts) == 1 and counts[0] > 1, counts


def test_a_spec_object_works_too_and_the_weight_defaults_to_four_forward_batches(tiny_spec):
    spec = load_spec(tiny_spec)
    handler = EncoderModelHandler(spec)
    assert handler.max_batch_weight == 4 * spec.batching.max_cost
    assert handler.batch_elements_kwargs()["max_batch_size"] == 4 * spec.batching.max_cost
    with pytest.raises(ValueError, match="max_batch_weight must be >= 1"):
        EncoderModelHandler(spec, max_batch_weight=-1)


def test_image_paths_and_a_corrupt_file(tmp_path):
    from mmfeat.spec import FeatureSpec
    from tests.media_factory import write_image

    spec = FeatureSpec.from_dict({"name": "px", "modality": "image", "input": {"column": "image"},
                                  "encoder": {"kind": "pixels", "size": 4, "color": "gray"}})
    paths = [str(write_image(tmp_path / f"{k}.png", seed=k)) for k in range(5)]
    (tmp_path / "broken.png").write_text("not an image")
    encoder = spec.create_encoder()
    want = {p: v for p, v in zip(paths, encoder.encode(encoder.preprocess(paths)))}
    with beam.Pipeline() as p:
        main, other = (p | beam.Create(paths + [str(tmp_path / "broken.png")])
                       | RunInference(EncoderModelHandler(spec)).with_exception_handling())
        assert_that(main | beam.Map(lambda r: (r.example, np.allclose(r.inference, want[r.example]))),
                    equal_to([(p, True) for p in paths]), label="vectors")
        assert_that(other.failed_preprocessing[0] | beam.MapTuple(lambda row, error: ("not an image" in str(error),
                                                                                      row)),
                    equal_to([(True, str(tmp_path / "broken.png"))]), label="corrupt")
