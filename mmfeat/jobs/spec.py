"""The job file (``mmfeat run JOB.yaml``): frozen, validated, errors naming the file and the field.

    name: nightly                     # optional; default: the file's stem
    store: store                      # relative paths are relative to the job file's directory
    buckets: 16                       # optional: bucket count if the store is created
    beam_args: [--direct_num_workers=2]
    features:
      - feature: ../features/text_minilm.yaml
        inputs: [data/manifest.jsonl]
        max_error_rate: 0.05          # optional; also id_column, source, slots, chunk_rows, retry_errors,
                                      # beam_args (added to the job's)
    train:
      - config: train.yaml            # a `mmfeat train` run config; the job's store replaces its store
        name: fusion                  # optional; default: the config's stem
        out: runs/fusion              # optional; overrides the config's out
    predict:
      - train: fusion                 # a train step's name, or run: a run directory
        name: digit_probs             # the feature set to write
        output: probs
"""
import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mmfeat.dataclass_loader import build, read_yaml
from mmfeat.errors import MmfeatError, SpecError
from mmfeat.store.objects import is_url

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class FeatureStep:
    """One feature set to extract: the feature YAML, its inputs and ``mmfeat extract``'s options."""

    feature: str
    inputs: list
    id_column: str | None = None
    source: str | None = None
    slots: int = 4
    chunk_rows: int = 8192
    max_error_rate: float | None = None
    retry_errors: bool = False
    beam_args: list = dataclasses.field(default_factory=list)

    def __post_init__(self):
        if not self.inputs or not all(isinstance(i, str) and i for i in self.inputs):
            raise ValueError(f"inputs must be a non-empty list of paths, got {self.inputs!r}")
        if self.slots < 1 or self.chunk_rows < 1:
            raise ValueError("slots and chunk_rows must be >= 1")
        if self.max_error_rate is not None and not 0 <= self.max_error_rate <= 1:
            raise ValueError(f"max_error_rate must be in 0..1, got {self.max_error_rate}")
        _check_strings(self.beam_args, "beam_args")


@dataclass(frozen=True)
class TrainStep:
    """One ``mmfeat train`` run; it runs after the extract and predict steps that write its features."""

    config: str
    name: str | None = None
    out: str | None = None


@dataclass(frozen=True)
class PredictStep:
    """One ``mmfeat predict``: a train step's model (``train``) or a run directory (``run``) into set ``name``."""

    name: str
    train: str | None = None
    run: str | None = None
    output: Literal["probs", "embedding"] = "probs"

    def __post_init__(self):
        if (self.train is None) == (self.run is None):
            raise ValueError("give exactly one of train (a train step's name) or run (a run directory)")


@dataclass(frozen=True)
class JobSpec:
    """A validated job file; paths are resolved, ``specs`` holds the loaded FeatureSpec of each feature step."""

    name: str
    store: str
    features: tuple = ()
    train: tuple = ()
    predict: tuple = ()
    beam_args: tuple = ()
    buckets: int | None = None
    origin: str = "<dict>"
    specs: tuple = ()


@dataclass(frozen=True)
class _RawJob:
    store: str
    name: str | None = None
    buckets: int | None = None
    beam_args: list = dataclasses.field(default_factory=list)
    features: list = dataclasses.field(default_factory=list)
    train: list = dataclasses.field(default_factory=list)
    predict: list = dataclasses.field(default_factory=list)


def _check_strings(values, field: str) -> None:
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"{field} must be a list of strings, got {values!r}")


def resolve_path(path: str, base: Path) -> str:
    """``path`` relative to ``base`` unless it is absolute or a URI (``gs://…``)."""
    if "://" in path or Path(path).expanduser().is_absolute():
        return str(Path(path).expanduser()) if "://" not in path else path
    return str(base / path)


def load_job(path) -> JobSpec:
    """Read and validate a job file: every feature YAML is loaded (no model), every names is checked."""
    from mmfeat.spec import load_spec

    path = Path(path)
    origin = str(path)
    raw = build(_RawJob, read_yaml(path, "job file"), origin)
    base = path.resolve().parent
    if is_url(raw.store):
        raise MmfeatError(
            f"{origin}: store: {raw.store}: `mmfeat run` keeps its job lock and reports under the store, and that "
            f"lock needs a local or NFS store root for now. For a store on object storage, schedule the steps "
            f"as `mmfeat extract`, `mmfeat train` and `mmfeat predict` commands: their commits are safe when "
            f"runs overlap")
    name = raw.name if raw.name is not None else path.stem
    if not _NAME.match(name):
        raise SpecError(f"{origin}: name {name!r} must match {_NAME.pattern} (it becomes a directory name)")
    _field_check(lambda: _check_strings(raw.beam_args, "beam_args"), origin)
    if not (raw.features or raw.train or raw.predict):
        raise SpecError(f"{origin}: the job has no steps; give features, train or predict")
    features, specs = [], []
    for i, item in enumerate(raw.features):
        where = f"{origin}: features[{i}]"
        step = build(FeatureStep, item, where)
        step = dataclasses.replace(step, feature=resolve_path(step.feature, base),
                                   inputs=[resolve_path(p, base) for p in step.inputs])
        try:
            specs.append(load_spec(step.feature))
        except SpecError as exc:
            raise SpecError(f"{where}.feature: {exc}") from None
        features.append(step)
    _unique([s.name for s in specs], f"{origin}: features", "feature set")
    trains = []
    for i, item in enumerate(raw.train):
        step = build(TrainStep, item, f"{origin}: train[{i}]")
        step = dataclasses.replace(step, config=resolve_path(step.config, base),
                                   name=step.name or Path(step.config).stem,
                                   out=resolve_path(step.out, base) if step.out else None)
        trains.append(step)
    _unique([t.name for t in trains], f"{origin}: train", "train step")
    predicts = []
    for i, item in enumerate(raw.predict):
        step = build(PredictStep, item, f"{origin}: predict[{i}]")
        if step.train is not None and step.train not in {t.name for t in trains}:
            raise SpecError(f"{origin}: predict[{i}].train: no train step named {step.train!r} "
                            f"(train steps: {', '.join(t.name for t in trains) or 'none'})")
        if step.run is not None:
            step = dataclasses.replace(step, run=resolve_path(step.run, base))
        predicts.append(step)
    _unique([p.name for p in predicts] + [s.name for s in specs], f"{origin}: predict", "feature set")
    return JobSpec(name=name, store=resolve_path(raw.store, base), features=tuple(features), train=tuple(trains),
                   predict=tuple(predicts), beam_args=tuple(raw.beam_args), buckets=raw.buckets, origin=origin,
                   specs=tuple(specs))


def _field_check(check, origin: str) -> None:
    try:
        check()
    except ValueError as exc:
        raise SpecError(f"{origin}: {exc}") from None


def _unique(names: list, where: str, what: str) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise SpecError(f"{where}: {what} {name!r} appears twice; each is written by one step")
        seen.add(name)
