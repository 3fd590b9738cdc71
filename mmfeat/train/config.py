"""The training run config (``mmfeat train CONFIG.yaml``): frozen, validated, errors naming the field."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mmfeat.dataclass_loader import build, read_yaml
from mmfeat.errors import SpecError


@dataclass(frozen=True)
class LabelsConfig:
    """The labels table and the split: ``split_column`` (train/val/test values) or hash fractions."""

    path: str
    column: str
    id_column: str = "id"
    split_column: str | None = None
    group_column: str | None = None
    val: float = 0.1
    test: float = 0.2
    seed: int = 0

    def __post_init__(self):
        if not (0 <= self.val < 1 and 0 <= self.test < 1 and self.val + self.test < 1):
            raise ValueError(f"need 0 <= val, test and val + test < 1, got val={self.val}, test={self.test}")


@dataclass(frozen=True)
class SelectConfig:
    """``select: {...}``: a grid over regularisation, scored on held-out groups, then a refit.

    ``folds: 0`` scores each candidate on the (group-aware) val split; ``folds: k``
    (k >= 2) by group k-fold cross-validation over train + val. Lists give the values
    tried; ``hidden: 0`` means linear adapters and a linear head.
    """

    weight_decay: list = field(default_factory=lambda: [1e-4, 1e-2])
    dropout: list = field(default_factory=lambda: [0.1, 0.4])
    hidden: list = field(default_factory=lambda: [0, 64])
    modality_dropout: list = field(default_factory=lambda: [0.0, 0.3])
    folds: int = 0
    refit: bool = True

    def grid(self, keys=("hidden", "weight_decay", "dropout", "modality_dropout")) -> list:
        """Every candidate as a dict of the settings ``keys`` (default all four), in a fixed order."""
        import itertools

        return [dict(zip(keys, values)) for values in itertools.product(*(getattr(self, k) for k in keys))]


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs. ``fusion`` is a registered fusion operator (joint mode)."""

    store: str
    features: list
    labels: LabelsConfig
    out: str
    task: Literal["multiclass", "multilabel", "regression"] = "multiclass"
    mode: Literal["joint", "sequential"] = "joint"
    fusion: str = "concat"
    stages: list | None = None
    complete_cases: bool = False
    loader: Literal["memory", "stream"] = "memory"
    sequences: list = ()
    max_chunks: int = 64
    hidden: int = 64
    dropout: float = 0.2
    modality_dropout: float = 0.0
    epochs: int = 200
    patience: int = 15
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4
    folds: int = 5
    oof: bool = True
    seed: int = 0
    baselines: bool = True
    select: SelectConfig | None = None
    origin: str = field(default="<dict>", compare=False)

    @classmethod
    def from_dict(cls, raw: dict, origin: str = "<dict>") -> "TrainConfig":
        if not isinstance(raw, dict):
            raise SpecError(f"{origin}: a run config must be a mapping")
        raw = dict(raw)
        labels = raw.pop("labels", None)
        split = raw.pop("split", None)
        if isinstance(labels, dict) and isinstance(split, dict):
            labels = {**labels, **split}
        if labels is None:
            raise SpecError(f"{origin}: labels: required field is missing")
        labels = build(LabelsConfig, labels, f"{origin}: labels")
        select = raw.pop("select", None)
        if select is True or select == {}:
            select = SelectConfig()
        elif select is False or select is None:
            select = None
        else:
            select = build(SelectConfig, select, f"{origin}: select")
        config = build(cls, {**raw, "labels": labels, "select": select, "origin": origin}, origin)
        check_ranges(config, origin)
        if not config.features or not all(isinstance(f, str) for f in config.features):
            raise SpecError(f"{origin}: features: give a list of feature-set names")
        if config.stages is not None and sorted(config.stages) != sorted(config.features):
            raise SpecError(f"{origin}: stages must order exactly the features {config.features}")
        from mmfeat.train.fusion import FUSIONS

        if config.fusion not in FUSIONS.names():
            raise SpecError(f"{origin}: fusion: unknown {config.fusion!r}; known: {', '.join(FUSIONS.names())}")
        unknown = [n for n in config.sequences if n not in config.features]
        if unknown:
            raise SpecError(f"{origin}: sequences: {', '.join(unknown)} are not among the features")
        if config.loader == "stream" and (config.mode == "sequential" or config.sequences):
            raise SpecError(f"{origin}: loader: stream supports joint mode over pooled vectors; "
                            f"use loader: memory for sequential mode or sequences")
        if config.select is not None:
            check_select(config, origin)
        return config


RANGES = {  # field: (test, what it must be)
    "epochs": (lambda v: v >= 1, ">= 1 (0 would train nothing)"),
    "patience": (lambda v: v >= 1, ">= 1"),
    "batch_size": (lambda v: v >= 1, ">= 1"),
    "lr": (lambda v: 0 < v < float("inf"), "a positive number"),
    "weight_decay": (lambda v: 0 <= v < float("inf"), ">= 0"),
    "hidden": (lambda v: v >= 0, ">= 0 (0: linear adapters)"),
    "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "modality_dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "folds": (lambda v: v >= 2, ">= 2"),
    "max_chunks": (lambda v: v >= 1, ">= 1"),
}


def check_ranges(config, origin: str) -> None:
    """Refuse out-of-range settings up front, naming the config file and field."""
    for name, (ok, what) in RANGES.items():
        value = getattr(config, name)
        if not ok(value):
            raise SpecError(f"{origin}: {name}: must be {what}, got {value!r}")
    select = config.select
    if select is None:
        return
    for name in ("weight_decay", "dropout", "hidden", "modality_dropout"):
        values = getattr(select, name)
        if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise SpecError(f"{origin}: select.{name}: give a non-empty list of numbers, got {values!r}")
        bad = [v for v in values if not RANGES[name][0](v)]
        if bad:
            raise SpecError(f"{origin}: select.{name}: values must be {RANGES[name][1]}, got {bad[0]!r}")
    if select.folds == 1 or select.folds < 0:
        raise SpecError(f"{origin}: select.folds: 0 (score on the val split) or >= 2, got {select.folds}")


def check_select(config, origin: str) -> None:
    """``select`` runs in memory; in sequential mode it scores each stage on its out-of-fold outputs."""
    if config.loader != "memory":
        raise SpecError(f"{origin}: select: model selection needs loader: memory")
    if config.mode != "sequential":
        return
    if config.select.folds:
        raise SpecError(f"{origin}: select.folds: sequential mode scores each stage on its out-of-fold outputs "
                        f"over train + val (the run's group folds, `folds`); leave select.folds at 0")
    if not config.oof:
        raise SpecError(f"{origin}: select: sequential selection scores out-of-fold outputs; it needs oof: true")


def load_config(path) -> TrainConfig:
    """Read a run YAML; relative ``store``, ``labels.path`` and ``out`` are relative to the YAML's directory."""
    path = Path(path)
    raw = read_yaml(path, "run config")
    base = path.resolve().parent
    if isinstance(raw, dict):
        for key in ("store", "out"):
            if isinstance(raw.get(key), str) and "://" not in raw[key]:
                raw[key] = str(base / raw[key])
        if isinstance(raw.get("labels"), dict) and isinstance(raw["labels"].get("path"), str):
            raw["labels"] = {**raw["labels"], "path": str(base / raw["labels"]["path"])}
    return TrainConfig.from_dict(raw, origin=str(path))
