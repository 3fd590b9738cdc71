"""``EncoderModelHandler``: any mmfeat encoder as a Beam ``ModelHandler``, for ``RunInference``.

    with beam.Pipeline() as p:
        texts = p | beam.Create(["a cat", "a dog"])
        main, bad = RunInference(EncoderModelHandler("features/text_minilm.yaml")).with_exception_handling()

Each element is what the spec's input column holds (a text, an image path or bytes…).
Before batching, a preprocessing step validates and prepares it (tokens, pixels) and
computes its ``cost``; a bad row raises there, so ``with_exception_handling`` routes
that one row to ``failed_preprocessing[0]`` as ``(row, error)``. Beam batches prepared
rows up to ``max_batch_weight`` cost units (``element_size_fn``; ``batch_length_fn``
keys rows of similar cost together in streaming), and ``run_inference`` cuts each Beam
batch into padding-optimal forward batches within the spec's ``max_cost`` and
``max_batch_size``, as ``mmfeat extract`` does. Outputs are
``PredictionResult(example, embedding, model_id=spec.name)``.

Beam 2.77's own ``max_batch_weight`` argument reaches ``BatchElements``, which does
not accept it; this handler passes the weight as a cost-unit ``max_batch_size`` instead.
"""
import json
import pickle
import threading
from operator import itemgetter

from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from mmfeat.encoders.base import Chunks, Failed
from mmfeat.plugins import load_plugins, loaded_plugins

_ENCODERS: dict[str, object] = {}  # one loaded encoder per spec and process: preprocessing and inference share it
_LOCK = threading.Lock()


def _loaded_encoder(spec, key: str, plugins):
    with _LOCK:
        if key not in _ENCODERS:
            load_plugins(plugins)
            encoder = spec.create_encoder()
            encoder.load()
            _ENCODERS[key] = encoder
        return _ENCODERS[key]


class _Prepare:
    """The preprocessing step: row → ``(row, prepared item, cost)``; raises ``ValueError`` for a bad row."""

    def __init__(self, spec, key: str, plugins):
        self.spec, self.key, self.plugins = spec, key, plugins

    def __call__(self, example):
        encoder = _loaded_encoder(self.spec, self.key, self.plugins)
        problem = encoder.validate(example)
        if problem:
            raise ValueError(f"{self.spec.name}: validate: {problem}")
        prepared = encoder.preprocess([example])[0]
        if isinstance(prepared, Failed):
            raise ValueError(f"{self.spec.name}: {prepared.stage}: {prepared}")
        units = prepared if isinstance(prepared, Chunks) else [prepared]
        return example, prepared, sum(encoder.cost(u) for u in units)


class EncoderModelHandler(ModelHandler):
    """Runs the encoder of a ``FeatureSpec`` (or feature YAML path) under ``RunInference``.

    ``max_batch_weight``: cost units (tokens, samples, pixels) per ``run_inference`` call
    (default: four forward batches' ``max_cost``, so each call has lengths to sort).
    ``max_batch_duration_secs`` and ``batch_bucket_boundaries`` turn on Beam's stateful,
    length-bucketed batching (``batch_length_fn`` is the cost). ``plugins``: modules to
    import on workers (those loaded with ``--plugin`` in this process are added).
    """

    def __init__(self, spec, *, max_batch_weight: int | None = None, max_batch_duration_secs: int | None = None,
                 batch_bucket_boundaries: list[int] | None = None, plugins=()):
        from mmfeat.spec import FeatureSpec, load_spec

        self.spec = spec if isinstance(spec, FeatureSpec) else load_spec(spec)
        self.max_batch_weight = max_batch_weight or 4 * self.spec.batching.max_cost
        if self.max_batch_weight < 1:
            raise ValueError(f"max_batch_weight must be >= 1, got {self.max_batch_weight}")
        self.plugins = list(dict.fromkeys([*loaded_plugins(), *plugins]))
        self._key = json.dumps(self.spec.to_dict(), sort_keys=True)
        super().__init__(max_batch_duration_secs=max_batch_duration_secs,
                         batch_bucket_boundaries=batch_bucket_boundaries,
                         batch_length_fn=itemgetter(2) if max_batch_duration_secs else None)

    def load_model(self):
        return _loaded_encoder(self.spec, self._key, self.plugins)

    def get_preprocess_fns(self):
        return [_Prepare(self.spec, self._key, self.plugins)]

    def batch_elements_kwargs(self):
        # A fixed budget of summed cost per Beam batch (min = max: no adaptive ramp from one row).
        return {**super().batch_elements_kwargs(), "min_batch_size": self.max_batch_weight,
                "max_batch_size": self.max_batch_weight, "element_size_fn": itemgetter(2)}

    def run_inference(self, batch, model, inference_args=None):
        """Encode prepared rows in padding-optimal forward batches; a row the model fails on fails the batch."""
        from mmfeat.extract.encoding import EncodeResult, encode_prepared

        result = EncodeResult()
        encode_prepared(model, list(range(len(batch))), [prepared for _, prepared, _ in batch], self.spec.batching,
                       result)
        if result.failures:
            index, (stage, reason) = next(iter(sorted(result.failures.items())))
            raise RuntimeError(f"{self.spec.name}: {len(result.failures)} of {len(batch)} rows failed to "
                               f"{stage}, e.g. {batch[index][0]!r}: {reason}")
        return [PredictionResult(example, result.vectors[i], self.spec.name) for i, (example, _, _) in
                enumerate(batch)]

    def get_num_bytes(self, batch) -> int:
        return len(pickle.dumps([example for example, _, _ in batch]))  # the rows, not their prepared tensors

    def get_metrics_namespace(self) -> str:
        return f"mmfeat.{self.spec.name}"
