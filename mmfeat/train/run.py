"""One training run: load the data, train baselines and the configured model, evaluate, write the run directory.

Run directory: ``config.json`` (resolved), ``metrics.json``, ``model.safetensors`` +
``model.json`` (no pickled modules), and ``plots/*.png``.
"""
import dataclasses
import itertools
import logging
from pathlib import Path

import numpy as np
import torch

from mmfeat.errors import MmfeatError
from mmfeat.store import FeatureStore
from mmfeat.store.files import replace_json
from mmfeat.train.checkpoint import save_joint, save_sequential
from mmfeat.train.data import load_dataset
from mmfeat.train.loop import fit, predict
from mmfeat.train.metrics import evaluate, fit_temperature
from mmfeat.train.model import JointModel
from mmfeat.train.tensors import tensors

log = logging.getLogger(__name__)


def n_outputs(ds, task) -> int:
    return 1 if task == "regression" else len(ds.classes)


def train_joint(ds, cfg, names, fusion, *, progress=True):
    """Fit a joint model over ``names``; return ``(model, history, temperature)``."""
    torch.manual_seed(cfg.seed)
    model = JointModel([ds.x[n].shape[1] for n in names], n_outputs(ds, cfg.task), fusion=fusion,
                       hidden=cfg.hidden, dropout=cfg.dropout)
    train_rows = ds.rows("train")
    if len(names) == 1:  # a unimodal model learns only from rows that have its modality
        train_rows = train_rows[ds.mask[train_rows, ds.names.index(names[0])] > 0]
    history = fit(model, cfg.task, tensors(ds, train_rows, names, cfg.task),
                  tensors(ds, ds.rows("val"), names, cfg.task), epochs=cfg.epochs, patience=cfg.patience,
                  batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
                  modality_dropout=cfg.modality_dropout, seed=cfg.seed, desc=f"{fusion} {'+'.join(names)}",
                  progress=progress)
    temperature = 1.0
    if cfg.task == "multiclass":
        xs, mask, y = tensors(ds, ds.rows("val"), names, cfg.task)
        temperature = fit_temperature(predict(model, xs, mask), y.numpy())
    return model, history, temperature


def evaluate_model(ds, cfg, model, names, temperature, subset_mask=None) -> dict:
    """Val and test metrics; ``subset_mask`` (M,) zeroes modalities that are not in a subset."""
    out = {}
    for part in ("val", "test"):
        xs, mask, y = tensors(ds, ds.rows(part), names, cfg.task)
        if subset_mask is not None:
            mask = mask * torch.from_numpy(subset_mask)
        out[part] = evaluate(cfg.task, predict(model, xs, mask), y.numpy(), n_outputs(ds, cfg.task), temperature)
    return out


def subsets(names):
    for k in range(1, len(names) + 1):
        yield from itertools.combinations(names, k)


def train(cfg, *, progress: bool = True) -> dict:
    """Run ``cfg`` (a TrainConfig); write the run directory and return the metrics."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    store = FeatureStore(cfg.store)
    ds = load_dataset(store, cfg.features, cfg.labels, cfg.task, cfg.complete_cases)
    if ds.counts["n_train"] == 0:
        raise MmfeatError(f"{cfg.labels.path}: no training rows after the split")
    metrics = {"task": cfg.task, "mode": cfg.mode, "features": list(cfg.features), "counts": ds.counts,
               "classes": ds.classes}
    histories = {}
    if cfg.baselines or (cfg.mode == "sequential" and not cfg.stages):
        metrics["unimodal"] = {}
        for name in cfg.features:
            model, histories[name], t = train_joint(ds, cfg, [name], "concat", progress=progress)
            metrics["unimodal"][name] = evaluate_model(ds, cfg, model, [name], t)
    if cfg.mode == "joint":
        model, histories["joint"], temperature = train_joint(ds, cfg, list(cfg.features), cfg.fusion,
                                                             progress=progress)
        main = evaluate_model(ds, cfg, model, list(cfg.features), temperature)
        metrics["joint"] = {"fusion": cfg.fusion, "temperature": temperature, **main}
        metrics["subsets"] = {}
        for subset in subsets(list(cfg.features)):
            keep = np.array([1.0 if n in subset else 0.0 for n in cfg.features], np.float32)
            metrics["subsets"]["+".join(subset)] = evaluate_model(ds, cfg, model, list(cfg.features),
                                                                 temperature, keep)["test"]
        save_joint(out, model, {"features": list(cfg.features), "feature_dims": ds.dims, "classes": ds.classes,
                                "task": cfg.task, "temperature": temperature})
    else:
        main = train_sequential(ds, cfg, metrics, out, progress)
    metrics["val"], metrics["test"] = main["val"], main["test"]
    replace_json(out / "config.json", dataclasses.asdict(cfg))
    replace_json(out / "metrics.json", metrics)
    from mmfeat.train.plots import write_plots

    write_plots(out / "plots", metrics, histories)
    return metrics


def train_sequential(ds, cfg, metrics, out, progress):
    from mmfeat.train.sequential import run_stages

    if cfg.task != "multiclass":
        raise MmfeatError(f"{cfg.origin}: sequential mode supports task: multiclass")
    order = list(cfg.stages) if cfg.stages else sorted(
        cfg.features, key=lambda n: -metrics["unimodal"][n]["val"].get("accuracy", 0))
    probs, stages, prior = run_stages(ds, cfg, order, len(ds.classes), progress=progress)
    logits = np.log(np.clip(probs, 1e-7, 1))
    temperature = fit_temperature(logits[ds.rows("val")], ds.y[ds.rows("val")])
    main = {part: evaluate(cfg.task, logits[ds.rows(part)], ds.y[ds.rows(part)], len(ds.classes), temperature)
            for part in ("val", "test")}
    metrics["sequential"] = {"order": order, "oof": cfg.oof, "folds": cfg.folds, "temperature": temperature,
                             "stages": [{k: v for k, v in s.items() if k != "models"} for s in stages], **main}
    save_sequential(out, [s["models"] for s in stages], {
        "order": order, "features": list(cfg.features), "feature_dims": ds.dims,
        "classes": ds.classes, "task": cfg.task,
        "temperature": temperature, "prior": [float(p) for p in prior]})
    return main
