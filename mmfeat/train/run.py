"""One training run: load the data, train baselines and the configured model, evaluate, write the run directory.

Run directory: ``config.json`` (resolved), ``metrics.json``, ``model.safetensors`` +
``model.json`` (no pickled modules), and ``plots/*.png``.
"""
import dataclasses
import itertools
import json
import logging
from pathlib import Path

import numpy as np
import torch

from mmfeat.errors import MmfeatError
from mmfeat.store import FeatureStore
from mmfeat.store.files import replace_json
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
        save_checkpoint(out, model, {"kind": "joint", **model.config, "features": list(cfg.features),
                                     "classes": ds.classes, "task": cfg.task, "temperature": temperature})
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
    probs, stages = run_stages(ds, cfg, order, len(ds.classes), progress=progress)
    logits = np.log(np.clip(probs, 1e-7, 1))
    temperature = fit_temperature(logits[ds.rows("val")], ds.y[ds.rows("val")])
    main = {part: evaluate(cfg.task, logits[ds.rows(part)], ds.y[ds.rows(part)], len(ds.classes), temperature)
            for part in ("val", "test")}
    metrics["sequential"] = {"order": order, "oof": cfg.oof, "folds": cfg.folds, "temperature": temperature,
                             "stages": [{k: v for k, v in s.items() if k != "models"} for s in stages], **main}
    tensors_out = {f"stage{k}.fold{f}.{name}": p.detach().contiguous() for k, s in enumerate(stages)
                   for f, model in enumerate(s["models"]) for name, p in model.state_dict().items()}
    save_checkpoint(out, tensors_out, {"kind": "sequential", "order": order, "stage_config": stages[0]["models"][0].config,
                                       "stage_dims": [s["models"][0].config["dims"] for s in stages],
                                       "folds": len(stages[0]["models"]), "classes": ds.classes, "task": cfg.task,
                                       "temperature": temperature})
    return main


def save_checkpoint(out: Path, model_or_tensors, config: dict) -> None:
    """``model.safetensors`` (weights only) and ``model.json`` (what rebuilds the module)."""
    from safetensors.torch import save_file

    state = model_or_tensors if isinstance(model_or_tensors, dict) else {
        k: v.detach().contiguous() for k, v in model_or_tensors.state_dict().items()}
    save_file(state, str(out / "model.safetensors"))
    replace_json(out / "model.json", config)


def load_joint(run_dir) -> tuple:
    """Rebuild a joint model from its run directory: ``(model, model.json contents)``."""
    from safetensors.torch import load_file

    run_dir = Path(run_dir)
    config = json.loads((run_dir / "model.json").read_text())
    if config["kind"] != "joint":
        raise MmfeatError(f"{run_dir}: a {config['kind']} checkpoint, not a joint model")
    model = JointModel(config["dims"], config["n_out"], fusion=config["fusion"], hidden=config["hidden"],
                       dropout=config["dropout"])
    model.load_state_dict(load_file(str(run_dir / "model.safetensors")))
    return model.eval(), config
