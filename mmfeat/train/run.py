"""One training run: load the data, fit linear baselines and the configured model, evaluate, write the run directory.

Run directory: ``config.json`` (resolved), ``metrics.json`` (its ``snapshot`` holds the feature-set
versions the run read, which ``evaluate`` and ``predict`` read again), ``model.safetensors`` +
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
from mmfeat.train.targets import check_splits

log = logging.getLogger(__name__)
PARAMS = ("hidden", "weight_decay", "dropout", "modality_dropout")


def n_outputs(ds, task) -> int:
    return 1 if task == "regression" else len(ds.classes)


def model_logits(ds, model, names):
    """``logits(rows, mask)`` of an in-memory model over ``names``, whichever way ``ds`` holds the data."""
    def on_arrays(xs, mask):
        return predict(model, [torch.from_numpy(np.ascontiguousarray(x)) for x in xs],
                       torch.from_numpy(np.ascontiguousarray(mask, np.float32)))

    return lambda rows, masks: ds.logits(on_arrays, rows, masks, names)


def held_mask(ds, rows, names):
    return ds.mask[rows][:, [ds.names.index(n) for n in names]]


def fit_joint(ds, cfg, names, fusion, params, fit_rows, held_rows, *, epochs=None, desc="", progress=True):
    """One joint model over ``names`` with ``params`` (hidden, weight decay, dropouts), early-stopped on
    ``held_rows`` (None: no early stopping, ``epochs`` epochs). Returns ``(model, history)``."""
    torch.manual_seed(cfg.seed)
    try:
        model = JointModel([ds.dims[n] for n in names], n_outputs(ds, cfg.task), fusion=fusion,
                           hidden=params["hidden"], dropout=params["dropout"],
                           sequence=[n in cfg.sequences for n in names])
    except ValueError as exc:  # e.g. tensor fusion too wide for this hidden size
        raise MmfeatError(f"{cfg.origin}: fusion: {exc}") from None
    if len(names) == 1:  # a unimodal model learns only from rows that have its modality
        fit_rows = fit_rows[ds.mask[fit_rows, ds.names.index(names[0])] > 0]
    history = fit(model, cfg.task, ds.part(fit_rows, names),
                  ds.part(held_rows, names) if held_rows is not None else None,
                  epochs=epochs or cfg.epochs, patience=cfg.patience, batch_size=cfg.batch_size, lr=cfg.lr,
                  weight_decay=params["weight_decay"], modality_dropout=params["modality_dropout"], seed=cfg.seed,
                  desc=desc or f"{fusion} {'+'.join(names)}", progress=progress)
    return model, history


def train_joint(ds, cfg, names, fusion, *, progress=True, with_subsets=True):
    """Fit a joint model over ``names``; return ``(model, histories, temperature, metrics, selection)``.

    Without ``select`` the model trains on train, early-stops on val and takes its
    temperature from val. With ``select`` the chosen settings are refit on train + val;
    ``metrics["val"]`` is then the chosen candidate's held-out score.
    """
    n_out = n_outputs(ds, cfg.task)
    if cfg.select is None:
        model, history = fit_joint(ds, cfg, names, fusion, {p: getattr(cfg, p) for p in PARAMS},
                                   ds.rows("train"), ds.rows("val"), progress=progress)
        rows = ds.rows("val")
        val_logits = model_logits(ds, model, names)(rows, [held_mask(ds, rows, names)])[0]
        temperature = fit_temperature(val_logits, ds.y[rows]) if cfg.task == "multiclass" else 1.0
        metrics = evaluate_all(ds, names, cfg.task, n_out, temperature, model_logits(ds, model, names),
                               with_subsets=with_subsets, known={"val": val_logits})
        return model, {fusion: history}, temperature, metrics, None
    from mmfeat.train.selection import select

    def fit_fn(params, fit_rows, held, desc):
        model, history = fit_joint(ds, cfg, names, fusion, params, fit_rows, held, desc=desc, progress=progress)
        return model, history, model_logits(ds, model, names)(held, [held_mask(ds, held, names)])[0]

    record, temperature, held_logits, held_y = select(ds, cfg, fit_fn, n_out)
    refit_rows = np.concatenate([ds.rows("train"), ds.rows("val")])
    model, history = fit_joint(ds, cfg, names, fusion, record["chosen"], refit_rows, None,
                               epochs=record["refit_epochs"], desc=f"refit {fusion}", progress=progress)
    metrics = evaluate_all(ds, names, cfg.task, n_out, temperature, model_logits(ds, model, names),
                           with_subsets=with_subsets)
    metrics["val"] = {**evaluate(cfg.task, held_logits, held_y, n_out, temperature),
                      "rows": "held out during selection"}
    return model, {f"{fusion} (refit)": history}, temperature, metrics, record


def add_baselines(ds, cfg, metrics) -> None:
    """Linear probes on the run's splits (multiclass, in-memory data); a note says why when skipped."""
    if cfg.task != "multiclass" or cfg.loader != "memory":
        metrics["baselines_skipped"] = "linear probes run for task: multiclass with loader: memory"
        return
    from mmfeat.train.baselines import linear_baselines

    metrics["baselines"] = linear_baselines(ds, list(cfg.features), cfg.task, len(ds.classes))


def train(cfg, *, progress: bool = True, storage_options: dict | None = None) -> dict:
    """Run ``cfg`` (a TrainConfig); write the run directory and return the metrics.

    ``storage_options``: fsspec options for an object-store ``cfg.store`` (kept out of the run's files)."""
    out = Path(cfg.out)
    started = time.perf_counter()
    store = FeatureStore(cfg.store, storage_options=storage_options)
    snapshot = store.snapshot(list(cfg.features))  # every read below sees exactly these versions
    ds = open_data(cfg, store.at(snapshot))
    check_splits(ds.counts, ds.y, ds.split, cfg.task, f"{cfg.origin}: labels ({cfg.labels.path})")
    out.mkdir(parents=True, exist_ok=True)
    load_seconds = time.perf_counter() - started
    metrics = {"task": cfg.task, "mode": cfg.mode, "features": list(cfg.features), "counts": ds.counts,
               "classes": ds.classes, "group_column": cfg.labels.group_column, "snapshot": snapshot.to_dict()}
    if cfg.baselines or (cfg.mode == "sequential" and not cfg.stages):
        add_baselines(ds, cfg, metrics)
    if cfg.mode == "joint":
        model, histories, temperature, main, selection = train_joint(ds, cfg, list(cfg.features), cfg.fusion,
                                                                     progress=progress)
        metrics["subsets"] = main.pop("subsets")
        metrics["joint"] = {"fusion": cfg.fusion, "temperature": temperature, **main}
        if selection is not None:
            metrics["selection"] = selection
        save_joint(out, model, {"features": list(cfg.features), "feature_dims": ds.dims, "classes": ds.classes,
                                "task": cfg.task, "temperature": temperature})
    else:
        main, histories = train_sequential(ds, cfg, metrics, out, progress)
    metrics["val"], metrics["test"] = main["val"], main["test"]
    if "baselines" in metrics:
        from mmfeat.train.baselines import verdict

        metrics["verdict"] = verdict(metrics)
    metrics["timing"] = {"load_seconds": round(load_seconds, 3),
                         "train_epoch_seconds": round(sum(sum(h["train_seconds"]) for h in histories.values()), 3),
                         "total_seconds": round(time.perf_counter() - started, 3)}
    replace_json(out / "config.json", dataclasses.asdict(cfg))
    replace_json(out / "metrics.json", metrics)
    from mmfeat.train.plots import write_plots

    write_plots(out / "plots", metrics, histories)
    return metrics


def stage_order(cfg, metrics) -> list:
    """The configured stage order, or modalities by their linear probe's val accuracy, weakest first: each
    stage corrects the chain before it, and the last one (the most informative modality) has the final word."""
    if cfg.stages:
        return list(cfg.stages)
    probes = metrics.get("baselines", {})
    return sorted(cfg.features, key=lambda n: probes.get(f"probe:{n}", {}).get("val", {}).get("accuracy", 0))


def train_sequential(ds, cfg, metrics, out, progress):
    from mmfeat.train.sequential import log_probs, run_stages

    if cfg.task != "multiclass":
        raise MmfeatError(f"{cfg.origin}: sequential mode supports task: multiclass")
    order = stage_order(cfg, metrics)
    probs, stages, prior, pool = run_stages(ds, cfg, order, len(ds.classes), progress=progress)
    logits = log_probs(probs)
    # Temperature on rows the chain predicted out of sample: val, or with select every pool row (out-of-fold).
    held = ds.rows("val") if cfg.select is None else pool
    temperature = fit_temperature(logits[held], ds.y[held])
    main = {part: evaluate(cfg.task, logits[ds.rows(part)], ds.y[ds.rows(part)], len(ds.classes), temperature)
            for part in ("val", "test")}
    if cfg.select is not None:
        main["val"]["rows"] = "out-of-fold (group folds over train + val)"
        metrics["selection"] = {
            "scoring": f"per stage, out-of-fold over train + val ({'group ' if ds.groups is not None else ''}"
                       f"{cfg.folds}-fold)", "group_aware": ds.groups is not None,
            "stages": [{"name": s["name"], "chosen": s["params"], "candidates": s["candidates"]} for s in stages],
            "temperature_rows": "out-of-fold rows of train + val"}
    metrics["sequential"] = {"order": order, "oof": cfg.oof, "folds": cfg.folds, "temperature": temperature,
                             "stage_input": "log_probs", "trained_on": "train + val" if cfg.select else "train",
                             "stages": [{k: v for k, v in s.items() if k not in ("models", "histories", "candidates")}
                                        for s in stages], **main}
    save_sequential(out, [s["models"] for s in stages], {
        "order": order, "features": list(cfg.features), "feature_dims": ds.dims,
        "classes": ds.classes, "task": cfg.task, "stage_input": "log_probs",
        "temperature": temperature, "prior": [float(p) for p in prior]})
    # Modality subsets through the saved chain (a masked modality falls back to the previous stage).
    ckpt = Checkpoint(out)
    subset_metrics = evaluate_all(
        ds, list(cfg.features), cfg.task, len(ds.classes), temperature,
        lambda rows, masks: ds.logits(ckpt.logits, rows, masks, ckpt.features),
        known={part: logits[ds.rows(part)] for part in ("val", "test")})
    metrics["subsets"] = subset_metrics["subsets"]
    histories = {name: h for s in stages for name, h in s["histories"].items()}
    return main, histories
