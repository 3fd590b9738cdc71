"""Fit a model on in-memory tensors: AdamW, minibatches, early stopping on validation loss, a progress bar."""
import copy
import logging
import time

import numpy as np
import torch

log = logging.getLogger(__name__)


def loss_fn(task: str):
    if task == "multiclass":
        return torch.nn.functional.cross_entropy
    if task == "multilabel":
        return torch.nn.functional.binary_cross_entropy_with_logits
    return lambda out, y: torch.nn.functional.mse_loss(out.squeeze(-1), y)


def predict(model, xs, mask, batch_size: int = 4096) -> np.ndarray:
    """Logits for every row (eval mode, no grad)."""
    model.eval()
    out = []
    with torch.inference_mode():
        for s in range(0, len(mask), batch_size):
            out.append(model([x[s:s + batch_size] for x in xs], mask[s:s + batch_size]))
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


def drop_modalities(mask, p: float, generator):
    """Zero each present modality with probability ``p``, never all of a row's modalities."""
    if p <= 0:
        return mask
    keep = (torch.rand(mask.shape, generator=generator) >= p).float() * mask
    empty = keep.sum(dim=1) == 0
    keep[empty] = mask[empty]
    return keep


def fit(model, task, train, val, *, epochs=200, patience=15, batch_size=256, lr=3e-3, weight_decay=1e-4,
        modality_dropout=0.0, seed=0, desc="train", progress=True):
    """Train on batches from ``train`` (see ``mmfeat.train.batches``); keep the weights with the
    best loss on ``val``. Returns the history: per-epoch losses and seconds.
    """
    from tqdm import tqdm

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    criterion = loss_fn(task)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.set_input_stats(train.input_stats())
    best, best_state, bad = float("inf"), None, 0
    history = {"train_loss": [], "val_loss": [], "train_seconds": [], "val_seconds": [], "best_epoch": None}
    has_val = val is not None and len(val) > 0
    bar = tqdm(range(epochs), desc=desc, leave=False, disable=not progress)
    for _ in bar:
        t0 = time.perf_counter()
        model.train()
        total, n = 0.0, 0
        for xs, mask, y in train.epoch(generator, batch_size):
            loss = criterion(model(xs, drop_modalities(mask, modality_dropout, generator)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, n = total + loss.item() * len(y), n + len(y)
        history["train_loss"].append(total / max(n, 1))
        t1 = time.perf_counter()
        val_loss = val.loss(model, criterion) if has_val else float("nan")
        history["val_loss"].append(val_loss)
        history["train_seconds"].append(t1 - t0)
        history["val_seconds"].append(time.perf_counter() - t1)
        bar.set_postfix(train=f"{history['train_loss'][-1]:.3f}", val=f"{val_loss:.3f}")
        if not has_val:  # a refit on all training rows: no early stopping, the last epoch is kept
            history["best_epoch"] = len(history["val_loss"])
        elif val_loss < best - 1e-5:
            best, best_state, bad = val_loss, copy.deepcopy(model.state_dict()), 0
            history["best_epoch"] = len(history["val_loss"])  # 1-based: the epoch whose weights are kept
        else:
            bad += 1
            if bad >= patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history
