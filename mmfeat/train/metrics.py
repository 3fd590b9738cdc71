"""Metrics (sklearn for the standard ones), calibration (ECE, NLL, Brier) and temperature scaling."""
import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """ECE with equal-width confidence bins (Guo et al. 2017)."""
    confidence, predicted = probs.max(axis=1), probs.argmax(axis=1)
    correct = (predicted == y).astype(float)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - confidence[sel].mean())
    return float(ece)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising validation NLL (LBFGS on log T)."""
    import torch

    if len(y) == 0:
        return 1.0
    z, t = torch.from_numpy(logits.astype(np.float64)), torch.from_numpy(y)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z / log_t.exp(), t)
        loss.backward()
        return loss

    opt.step(closure)
    return float(np.clip(log_t.exp().item(), 0.05, 20.0))


def classification(logits: np.ndarray, y: np.ndarray, n_classes: int, temperature: float = 1.0) -> dict:
    """accuracy, macro-F1, NLL, ECE, Brier (on temperature-scaled probabilities)."""
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    if len(y) == 0:
        return {"n": 0}
    probs = softmax(logits / temperature)
    predicted = probs.argmax(axis=1)
    onehot = np.eye(n_classes)[y]
    return {"n": int(len(y)), "accuracy": float(accuracy_score(y, predicted)),
            "macro_f1": float(f1_score(y, predicted, average="macro", labels=range(n_classes), zero_division=0)),
            "nll": float(log_loss(y, np.clip(probs, 1e-12, 1), labels=range(n_classes))),
            "ece": expected_calibration_error(probs, y),
            "brier": float(((probs - onehot) ** 2).sum(axis=1).mean())}


def multilabel(logits: np.ndarray, y: np.ndarray) -> dict:
    from sklearn.metrics import f1_score, roc_auc_score

    if len(y) == 0:
        return {"n": 0}
    probs = 1 / (1 + np.exp(-logits))
    valid = [k for k in range(y.shape[1]) if 0 < y[:, k].sum() < len(y)]
    auroc = float(roc_auc_score(y[:, valid], probs[:, valid], average="macro")) if valid else float("nan")
    return {"n": int(len(y)), "macro_f1": float(f1_score(y, probs > 0.5, average="macro", zero_division=0)),
            "auroc": auroc, "subset_accuracy": float(((probs > 0.5) == (y > 0.5)).all(axis=1).mean())}


def regression(pred: np.ndarray, y: np.ndarray) -> dict:
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    if len(y) == 0:
        return {"n": 0}
    pred = pred.reshape(-1)
    return {"n": int(len(y)), "mae": float(mean_absolute_error(y, pred)),
            "rmse": float(np.sqrt(mean_squared_error(y, pred)))}


def evaluate(task: str, logits: np.ndarray, y: np.ndarray, n_out: int, temperature: float = 1.0) -> dict:
    """The task's metrics for ``logits`` against ``y``."""
    if task == "multiclass":
        return classification(logits, y, n_out, temperature)
    if task == "multilabel":
        return multilabel(logits, y)
    return regression(logits, y)
