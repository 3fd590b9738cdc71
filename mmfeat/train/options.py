"""The run-config options with their defaults, rendered for ``mmfeat train --help`` and the README table.

Defaults are read from the config dataclasses, so the help cannot drift from the code.
"""
import dataclasses

HELP = {
    "store": "store root (relative to the YAML)",
    "features": "feature-set names to train on (list)",
    "out": "run directory (relative to the YAML)",
    "labels.path": "labels table: .csv, .jsonl or .parquet with ids and targets",
    "labels.column": "target column",
    "labels.id_column": "id column",
    "labels.split_column": "column of train/val/test; without it, hash fractions val and test",
    "labels.group_column": "group (speaker, patient, …): each group lies in one split; val carved by group",
    "labels.val": "val fraction (hash split, or carved from train when the split column has no val)",
    "labels.test": "test fraction (hash split)",
    "labels.seed": "seed of the hash split",
    "task": "multiclass | multilabel | regression",
    "mode": "joint (fused branches) | sequential (stacked stages)",
    "fusion": "joint: concat | late | gated | lowrank | tensor",
    "stages": "sequential order (default: by linear-probe val accuracy, weakest first)",
    "complete_cases": "keep only ids present in every feature set",
    "loader": "memory | stream (one bucket at a time)",
    "sequences": "feature sets fed as chunk sequences (attention pooling)",
    "max_chunks": "chunks kept per sequence",
    "hidden": "adapter/head width; 0 = linear adapters and head",
    "dropout": "dropout in adapters and head",
    "modality_dropout": "chance of dropping a present modality per training row",
    "epochs": "maximum epochs (>= 1)",
    "patience": "early-stopping patience on val loss",
    "batch_size": "minibatch size",
    "lr": "AdamW learning rate",
    "weight_decay": "AdamW weight decay",
    "folds": "sequential: out-of-fold folds (group folds with group_column)",
    "oof": "sequential: out-of-fold stage outputs (false: leaky ablation)",
    "seed": "seed of initialisation and batching",
    "baselines": "fit linear-probe baselines (per modality, concat, product)",
    "select": "model selection: {} for the default grid, or lists for hidden, weight_decay, dropout, "
              "modality_dropout, and folds (0: val split, k: group k-fold CV); sequential: per stage, "
              "out-of-fold over train + val",
}


def defaults() -> dict:
    """``{option: default}`` in HELP order; required options map to None."""
    from mmfeat.train.config import LabelsConfig, SelectConfig, TrainConfig

    found = {}
    for prefix, cls in (("", TrainConfig), ("labels.", LabelsConfig)):
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                found[prefix + f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                found[prefix + f.name] = f.default_factory()
    select = SelectConfig()
    found["select"] = None
    found["select.grid"] = {k: getattr(select, k) for k in ("hidden", "weight_decay", "dropout", "modality_dropout")}
    return {k: found.get(k, "required") for k in HELP}


def _show(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)) and not value:
        return "[]"
    return str(value).replace("'", "")


def help_text() -> str:
    """The option list for ``mmfeat train --help``."""
    values = defaults()
    grid = defaults_grid()
    lines = ["run-config options (YAML keys, default in brackets):"]
    for key, text in HELP.items():
        lines.append(f"  {key:<20} [{_show(values[key])}] {text}")
    lines.append(f"  select: {{}} tries the grid {grid}")
    return "\n".join(lines)


def defaults_grid() -> str:
    from mmfeat.train.config import SelectConfig

    select = SelectConfig()
    return ", ".join(f"{k}: {getattr(select, k)}" for k in ("hidden", "weight_decay", "dropout", "modality_dropout"))


def markdown_table() -> str:
    """The README's training-options table."""
    values = defaults()
    rows = ["| option | default | meaning |", "|---|---|---|"]
    rows += [f"| `{k}` | `{_show(values[k])}` | {text} |" for k, text in HELP.items()]
    return "\n".join(rows)
