"""Sequential mode: stage k trains on its modality plus stage k−1's predicted probabilities.

Predictions for training rows are out-of-fold (K folds): a row's stage output
comes from a model that never saw it, so the next stage learns how far to trust
it. Val and test rows get the average of the K fold models. ``oof=False`` trains
one model on all training rows and feeds its in-sample predictions forward: the
leaky variant, kept as an ablation. A row missing a stage's modality keeps the
previous stage's prediction.
"""
import numpy as np
import torch

from mmfeat.train.batches import InMemory
from mmfeat.train.loop import fit, predict
from mmfeat.train.metrics import softmax
from mmfeat.train.model import JointModel
from mmfeat.train.tensors import tensors


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


def run_stages(ds, cfg, order, n_out, *, progress=True):
    """Train the stages in ``order``; return ``(probs (n, C) after the last stage, stage records, prior)``.

    ``prior`` (C,) is the smoothed training class frequency: the prediction for a
    row that has none of the stages' modalities.
    """
    n = len(ds.y)
    train_rows, val_rows = ds.rows("train"), ds.rows("val")
    prior = np.bincount(ds.y[train_rows], minlength=n_out).astype(np.float32) + 1
    prior = prior / prior.sum()
    probs = np.tile(prior, (n, 1)).astype(np.float32)
    stages = []
    for k, name in enumerate(order):
        m = ds.names.index(name)
        present = ds.mask[:, m] > 0
        extra = probs if k > 0 else None
        dim = ds.x[name].shape[-1] + (n_out if k > 0 else 0)
        t_rows, v_rows = train_rows[present[train_rows]], val_rows[present[val_rows]]
        stage_out = probs.copy()
        models, histories = [], {}
        if cfg.oof:
            groups = ds.groups[t_rows] if ds.groups is not None else None
            fold = fold_of(len(t_rows), cfg.folds, cfg.seed + k, groups)
            n_folds = int(fold.max()) + 1
            others = np.flatnonzero(present & (ds.split != 0))
            averaged = np.zeros((len(others), n_out), np.float32)
            for f in range(n_folds):
                model, histories[f"stage {k + 1} {name} fold {f + 1}"] = _fit(
                    ds, cfg, name, extra, dim, n_out, t_rows[fold != f], v_rows, k, f, progress)
                held = t_rows[fold == f]
                stage_out[held] = softmax(predict(model, *tensors(ds, held, [name], extra=extra)[:2]))
                averaged += softmax(predict(model, *tensors(ds, others, [name], extra=extra)[:2])) / n_folds
                models.append(model)
            stage_out[others] = averaged
        else:
            model, histories[f"stage {k + 1} {name}"] = _fit(ds, cfg, name, extra, dim, n_out, t_rows, v_rows, k, 0,
                                                            progress)
            rows = np.flatnonzero(present)
            stage_out[rows] = softmax(predict(model, *tensors(ds, rows, [name], extra=extra)[:2]))
            models.append(model)
        stages.append({"name": name, "models": models, "histories": histories, "train_rows": int(len(t_rows)),
                       "folds": len(models), "group_folds": bool(cfg.oof and ds.groups is not None),
                       "train_accuracy": float((stage_out[t_rows].argmax(1) == ds.y[t_rows]).mean())
                       if len(t_rows) else None})
        probs = stage_out
    return probs, stages, prior


def _fit(ds, cfg, name, extra, dim, n_out, t_rows, v_rows, k, f, progress):
    torch.manual_seed(cfg.seed + 100 * k + f)
    model = JointModel([dim], n_out, fusion="concat", hidden=cfg.hidden, dropout=cfg.dropout,
                       sequence=[name in cfg.sequences])
    history = fit(model, cfg.task, InMemory(*tensors(ds, t_rows, [name], extra=extra)),
                  InMemory(*tensors(ds, v_rows, [name], extra=extra)),
                  epochs=cfg.epochs, patience=cfg.patience, batch_size=cfg.batch_size, lr=cfg.lr,
                  weight_decay=cfg.weight_decay, seed=cfg.seed + 100 * k + f,
                  desc=f"stage {k + 1} {name} fold {f + 1}", progress=progress)
    return model, history
