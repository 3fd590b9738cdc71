"""Model selection that generalises: a small grid over regularisation, scored on held-out groups.

Each candidate (hidden width, weight decay, dropout, modality dropout) is scored on
rows whose groups it never trained on: the val split (``select.folds: 0``; group-aware
when ``labels.group_column`` is set) or group k-fold cross-validation over train + val.
The winner is refit on all training rows (train + val) for the epochs early stopping
chose, and its temperature is fit on the held-out logits the scoring produced.
"""
import numpy as np

from mmfeat.train.metrics import evaluate, fit_temperature


def folds_of(ds, folds: int):
    """``[(fit_rows, held_rows), …]``: the val split, or group k folds over train + val (ids as groups without
    a group column)."""
    if not folds:
        return [(ds.rows("train"), ds.rows("val"))]
    from sklearn.model_selection import GroupKFold

    rows = np.concatenate([ds.rows("train"), ds.rows("val")])
    groups = (ds.groups if ds.groups is not None else ds.ids)[rows]
    k = min(folds, len(set(groups.tolist())))
    return [(rows[a], rows[b]) for a, b in GroupKFold(n_splits=k).split(rows, groups=groups)]


def score_candidate(ds, cfg, params, splits, fit_fn, n_out):
    """Fit ``params`` on each split; return the record and the held-out logits in ``splits`` order."""
    held_logits, epochs = [], []
    for k, (fit_rows, held_rows) in enumerate(splits):
        _, history, logits = fit_fn(params, fit_rows, held_rows, desc=f"select {k + 1}/{len(splits)}")
        held_logits.append(logits)
        epochs.append(history["best_epoch"] or 1)
    y = np.concatenate([ds.y[h] for _, h in splits])
    scores = evaluate(cfg.task, np.concatenate(held_logits), y, n_out)
    return {**params, **{k: scores[k] for k in ("accuracy", "nll") if k in scores},
            "n_held_out": int(len(y)), "epochs": epochs}, np.concatenate(held_logits), y


def select(ds, cfg, fit_fn, n_out):
    """Score every candidate of ``cfg.select``; return ``(record, chosen params, held-out logits, their y)``.

    ``fit_fn(params, fit_rows, held_rows, desc)`` trains one model (early stopping on
    ``held_rows``) and returns ``(model, history, logits on held_rows)``.
    """
    splits = folds_of(ds, cfg.select.folds)
    candidates, best = [], None
    for params in cfg.select.grid():
        record, logits, y = score_candidate(ds, cfg, params, splits, fit_fn, n_out)
        candidates.append(record)
        key = (record.get("accuracy", 0.0), -record.get("nll", 0.0))
        if best is None or key > best[0]:
            best = (key, record, logits, y)
    _, chosen, logits, y = best
    temperature = fit_temperature(logits, y) if cfg.task == "multiclass" else 1.0
    record = {"scoring": f"group {len(splits)}-fold cross-validation" if cfg.select.folds else "val split",
              "group_aware": ds.groups is not None, "candidates": candidates,
              "chosen": {k: chosen[k] for k in ("hidden", "weight_decay", "dropout", "modality_dropout")},
              "refit_rows": int(len(ds.rows("train")) + len(ds.rows("val"))),
              "refit_epochs": max(1, int(round(float(np.mean(chosen["epochs"]))))),
              "temperature_rows": "held-out rows of the chosen candidate"}
    return record, temperature, logits, y
