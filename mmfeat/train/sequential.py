"""Sequential mode: stage k corrects stage k−1's log-probabilities from its own modality.

Each stage is a ``StageModel``: ``z_k = (1 + gain) · z_{k−1} + f_k(x_k)`` (stacking in
logit space, the previous stage an offset). Predictions for training rows are
out-of-fold (K folds; group folds with ``labels.group_column``): a row's stage output
comes from a model that never saw it or its group, so the next stage learns how far
to trust it. Other rows get the average of the K fold models' probabilities.
``oof=False`` trains one model on all training rows and feeds its in-sample
predictions forward: the leaky variant, kept as an ablation. A row missing a stage's
modality keeps the previous stage's prediction.

Without ``select`` the folds cover the train split and every fold model early-stops
on the val split. With ``select`` they cover train + val, each fold model early-stops
on its held-out fold, and every candidate of the grid (hidden, weight decay, dropout)
is scored per stage on those out-of-fold predictions; the best stage is kept and fed forward.
"""
import numpy as np
import torch

from mmfeat.train.batches import InMemory
from mmfeat.train.loop import fit, predict
from mmfeat.train.metrics import evaluate, softmax
from mmfeat.train.stage_model import StageModel
from mmfeat.train.tensors import tensors

STAGE_PARAMS = ("hidden", "weight_decay", "dropout")


def fold_of(n: int, folds: int, seed: int, groups=None) -> np.ndarray:
    """A deterministic fold number per training row; with ``groups`` whole groups share a fold (GroupKFold),
    so a row's out-of-fold prediction comes from a model that saw none of its group."""
    if groups is None:
        return np.random.default_rng(seed).permutation(n) % folds
    from sklearn.model_selection import GroupKFold

    fold = np.zeros(n, np.int64)
    k = min(folds, len(set(groups.tolist())))
    for f, (_, held) in enumerate(GroupKFold(n_splits=k).split(np.zeros(n), groups=groups)):
        fold[held] = f
    return fold


def log_probs(probs: np.ndarray) -> np.ndarray:
    """What a stage hands the next one: log-probabilities, clipped away from log 0."""
    return np.log(np.clip(probs, 1e-7, 1)).astype(np.float32)


def stage_candidates(cfg) -> list:
    """``[{hidden, weight_decay, dropout}, …]``: the run's own settings, or the ``select`` grid (modality
    dropout does not apply to a one-modality stage)."""
    if cfg.select is None:
        return [{p: getattr(cfg, p) for p in STAGE_PARAMS}]
    return cfg.select.grid(STAGE_PARAMS)


def run_stages(ds, cfg, order, n_out, *, progress=True):
    """Train the stages in ``order``; return ``(probs (n, C) after the last stage, stage records, prior, pool)``.

    ``prior`` (C,) is the smoothed training class frequency: the prediction for a
    row that has none of the stages' modalities. ``pool`` holds the rows the stages
    trained on (train, or train + val with ``select``); their ``probs`` are out-of-fold.
    """
    n = len(ds.y)
    pool = ds.rows("train") if cfg.select is None else np.concatenate([ds.rows("train"), ds.rows("val")])
    prior = np.bincount(ds.y[pool], minlength=n_out).astype(np.float32) + 1
    prior = prior / prior.sum()
    probs = np.tile(prior, (n, 1)).astype(np.float32)
    stages = []
    for k, name in enumerate(order):
        extra = log_probs(probs) if k > 0 else None
        tried = [_stage(ds, cfg, k, name, extra, probs, pool, params, n_out, progress)
                 for params in stage_candidates(cfg)]
        best = max(tried, key=lambda s: (s["score"].get("accuracy", 0.0), -s["score"].get("nll", 0.0)))
        record = {"name": name, "models": best["models"], "histories": best["histories"],
                  "train_rows": best["train_rows"], "folds": len(best["models"]),
                  "group_folds": bool(cfg.oof and ds.groups is not None), "params": best["params"],
                  "train_accuracy": best["score"].get("accuracy")}
        if cfg.select is not None:
            record["candidates"] = [{**s["params"], **s["score"]} for s in tried]
        stages.append(record)
        probs = best["probs"]
    return probs, stages, prior, pool


def _stage(ds, cfg, k, name, extra, probs, pool, params, n_out, progress) -> dict:
    """One stage with ``params``: its fold models, the chain's probabilities after it, and its score on the
    pool rows that have the modality (out-of-fold unless ``oof`` is off)."""
    present = ds.mask[:, ds.names.index(name)] > 0
    val_rows = ds.rows("val")
    t_rows, v_rows = pool[present[pool]], val_rows[present[val_rows]]
    stage_out = probs.copy()
    models, histories = [], {}
    if cfg.oof:
        groups = ds.groups[t_rows] if ds.groups is not None else None
        fold = fold_of(len(t_rows), cfg.folds, cfg.seed + k, groups)
        n_folds = int(fold.max()) + 1
        others = np.flatnonzero(present & ~np.isin(np.arange(len(ds.y)), t_rows))
        averaged = np.zeros((len(others), n_out), np.float32)
        for f in range(n_folds):
            held = t_rows[fold == f]
            stop_on = v_rows if cfg.select is None else held  # select: val rows are in the pool
            model, histories[f"stage {k + 1} {name} fold {f + 1}"] = _fit(
                ds, cfg, name, extra, params, n_out, t_rows[fold != f], stop_on, k, f, progress)
            stage_out[held] = softmax(predict(model, *tensors(ds, held, [name], extra=extra)[:2]))
            averaged += softmax(predict(model, *tensors(ds, others, [name], extra=extra)[:2])) / n_folds
            models.append(model)
        stage_out[others] = averaged
    else:
        model, histories[f"stage {k + 1} {name}"] = _fit(ds, cfg, name, extra, params, n_out, t_rows, v_rows, k,
                                                        0, progress)
        rows = np.flatnonzero(present)
        stage_out[rows] = softmax(predict(model, *tensors(ds, rows, [name], extra=extra)[:2]))
        models.append(model)
    score = evaluate(cfg.task, log_probs(stage_out[t_rows]), ds.y[t_rows], n_out) if len(t_rows) else {}
    return {"params": params, "models": models, "histories": histories, "probs": stage_out,
            "train_rows": int(len(t_rows)), "score": {m: score[m] for m in ("accuracy", "nll") if m in score}}


def _fit(ds, cfg, name, extra, params, n_out, t_rows, v_rows, k, f, progress):
    torch.manual_seed(cfg.seed + 100 * k + f)
    model = StageModel(ds.x[name].shape[-1], n_out, hidden=params["hidden"], dropout=params["dropout"],
                       sequence=name in cfg.sequences, offset=extra is not None)
    history = fit(model, cfg.task, InMemory(*tensors(ds, t_rows, [name], extra=extra)),
                  InMemory(*tensors(ds, v_rows, [name], extra=extra)),
                  epochs=cfg.epochs, patience=cfg.patience, batch_size=cfg.batch_size, lr=cfg.lr,
                  weight_decay=params["weight_decay"], seed=cfg.seed + 100 * k + f,
                  desc=f"stage {k + 1} {name} fold {f + 1}", progress=progress)
    return model, history
