"""One training run: load the data, train baselines and the configured model, evaluate, write the run directory.

Run directory: ``config.json`` (resolved), ``metrics.json``, ``model.safetensors`` +
``model.json`` (no pickled modules), and ``plots/*.png``.
"""
import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import torch

from mmfeat.errors import MmfeatError
from mmfeat.store import FeatureStore
from mmfeat.store.files import replace_json
from mmfeat.train.checkpoint import Checkpoint, save_joint, save_sequential
from mmfeat.train.data import open_data
from mmfeat.train.evaluation import evaluate_all
from mmfeat.train.loop import fit, predict
from mmfeat.train.metrics import evaluate, fit_temperature
from mmfeat.train.model import JointModel

log = logging.getLogger(__name__)


def n_outputs(ds, task) -> int:
    return 1 if task == "regression" else len(ds.classes)


def model_logits(ds, model, names):
    """``logits(rows, mask)`` of an in-memory model over ``names``, whichever way ``ds`` holds the data."""
    def on_arrays(xs, mask):
        return predict(model, [torch.from_numpy(np.ascontiguousarray(x)) for x in xs],
                       torch.from_numpy(np.ascontiguousarray(mask, np.float32)))

    return lambda rows, masks: ds.logits(on_arrays, rows, masks, names)


def train_joint(ds, cfg, names, fusion, *, progress=True, with_subsets=True):
    """Fit a joint model over ``names``; return ``(model, history, temperature, metrics)``."""
    torch.manual_seed(cfg.seed)
    model = JointModel([ds.dims[n] for n in names], n_outputs(ds, cfg.task), fusion=fusion,
                       hidden=cfg.hidden, dropout=cfg.dropout, sequence=[n in cfg.sequences for n in names])
    train_rows = ds.rows("train")
    if len(names) == 1:  # a unimodal model learns only from rows that have its modality
        train_rows = train_rows[ds.mask[train_rows, ds.names.index(names[0])] > 0]
    history = fit(model, cfg.task, ds.part(train_rows, names), ds.part(ds.rows("val"), names), epochs=cfg.epochs, patience=cfg.patience,
                  batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
                  modality_dropout=cfg.modality_dropout, seed=cfg.seed, desc=f"{fusion} {'+'.join(names)}",
                  progress=progress)
    logits = model_logits(ds, model, names)
    rows = ds.rows("val")
    val_logits = logits(rows, [ds.mask[rows][:, [ds.names.index(n) for n in names]]])[0]
    temperature = fit_temperature(val_logits, ds.y[rows]) if cfg.task == "multiclass" else 1.0
    metrics = evaluate_all(ds, names, cfg.task, n_outputs(ds, cfg.task), temperature, logits,
                           with_subsets=with_subsets, known={"val": val_logits})
    return model, history, temperature, metrics


def train(cfg, *, progress: bool = True) -> dict:
    """Run ``cfg`` (a TrainConfig); write the run directory and return the metrics."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    store = FeatureStore(cfg.store)
    ds = open_data(cfg, store)
    load_seconds = time.perf_counter() - started
    if ds.counts["n_train"] == 0:
        raise MmfeatError(f"{cfg.labels.path}: no training rows after the split")
    metrics = {"task": cfg.task, "mode": cfg.mode, "features": list(cfg.features), "counts": ds.counts,
               "classes": ds.classes}
    histories = {}
    if cfg.baselines or (cfg.mode == "sequential" and not cfg.stages):
        metrics["unimodal"] = {}
        for name in cfg.features:
            _, histories[name], _, metrics["unimodal"][name] = train_joint(
                ds, cfg, [name], "concat", progress=progress, with_subsets=False)
    if cfg.mode == "joint":
        model, histories["joint"], temperature, main = train_joint(ds, cfg, list(cfg.features), cfg.fusion,
                                                                   progress=progress)
        metrics["subsets"] = main.pop("subsets")
        metrics["joint"] = {"fusion": cfg.fusion, "temperature": temperature, **main}
        save_joint(out, model, {"features": list(cfg.features), "feature_dims": ds.dims, "classes": ds.classes,
                                "task": cfg.task, "temperature": temperature})
    else:
        main = train_sequential(ds, cfg, metrics, out, progress)
    metrics["val"], metrics["test"] = main["val"], main["test"]
    metrics["timing"] = {"load_seconds": round(load_seconds, 3),
                         "train_epoch_seconds": round(sum(sum(h["train_seconds"]) for h in histories.values()), 3),
                         "total_seconds": round(time.perf_counter() - started, 3)}
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
    # Modality subsets through the saved chain (a masked modality falls back to the previous stage).
    ckpt = Checkpoint(out)
    subset_metrics = evaluate_all(
        ds, list(cfg.features), cfg.task, len(ds.classes), temperature,
        lambda rows, masks: ds.logits(ckpt.logits, rows, masks, ckpt.features),
        known={part: logits[ds.rows(part)] for part in ("val", "test")})
    metrics["subsets"] = subset_metrics["subsets"]
    return main
