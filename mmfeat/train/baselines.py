"""Linear-probe baselines, trained in every run on the run's own splits.

- ``probe:<name>``: multinomial logistic regression on one modality's standardised
  features, trained and scored on the rows that have that modality (``n`` says how many);
- ``probe:concat``: the same on all modalities side by side, a missing modality
  standing at its training mean (0 after standardisation);
- ``probe:product``: the unimodal probes' probabilities multiplied over the modalities
  a row has, renormalised (the training class prior for a row with none).

The inverse regularisation ``C`` of each probe is chosen from ``PROBE_C`` on the val
split, which holds out whole groups when ``labels.group_column`` is set.
"""
import numpy as np

from mmfeat.train.metrics import evaluate

PROBE_C = (0.01, 0.1, 1.0)


def pooled(x: np.ndarray) -> np.ndarray:
    """(n, d) vectors; chunk sequences (n, L, d) are averaged over their real (non-zero) chunks."""
    if x.ndim == 2:
        return x
    real = (np.abs(x).max(axis=-1, keepdims=True) > 0).astype(np.float32)
    return (x * real).sum(axis=1) / np.maximum(real.sum(axis=1), 1)


class Block:
    """One modality, standardised with the mean and std of the training rows that have it."""

    def __init__(self, x: np.ndarray, present: np.ndarray):
        fitted = x[present].astype(np.float64)
        self.mean, self.std = fitted.mean(axis=0), fitted.std(axis=0)
        self.std[self.std < 1e-12] = 1.0  # what StandardScaler does with a constant feature

    def __call__(self, x: np.ndarray, present: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std) * present[:, None]


def log_proba(model, x: np.ndarray, n_out: int) -> np.ndarray:
    """(n, n_out) log-probabilities, classes never seen in training at a very low value."""
    out = np.full((len(x), n_out), np.log(1e-12))
    if len(x):
        out[:, model.classes_] = model.predict_log_proba(x)
    return out


def fit_probe(x_train, y_train, x_val, y_val, n_out: int, task: str):
    """The logistic regression with the ``C`` from ``PROBE_C`` that scores best on val (accuracy, then NLL)."""
    from sklearn.linear_model import LogisticRegression

    best = None
    for c in PROBE_C:
        model = LogisticRegression(C=c, max_iter=2000).fit(x_train, y_train)
        scores = evaluate(task, log_proba(model, x_val, n_out), y_val, n_out)
        key = (scores.get("accuracy", 0.0), -scores.get("nll", 0.0))
        if best is None or key > best[0]:
            best = (key, c, model)
    return best[1], best[2]


FITTED: dict = {}  # data digest -> baselines: runs over the same data in one process fit the probes once


def data_digest(ds, names, task: str, n_out: int) -> str:
    """A digest of everything the probes read: features, masks, targets, splits (and the settings)."""
    import hashlib

    h = hashlib.blake2b(repr((list(names), task, n_out, PROBE_C)).encode(), digest_size=16)
    for array in (ds.mask, ds.y, ds.split, *(ds.x[n] for n in names)):
        h.update(repr((array.dtype.str, array.shape)).encode())
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def linear_baselines(ds, names, task: str, n_out: int) -> dict:
    """``{"probe:a": {"C", "val", "test"}, …, "probe:concat": …, "probe:product": …}`` on ds's splits.

    BLAS runs single-threaded here: these problems are small, and a multi-threaded
    OpenBLAS on a busy machine made them about a hundred times slower (measured).
    A later run in the same process over the same data (the demo trains five) gets a
    copy of the first run's probes: they are deterministic, and each costs 1-3 s.
    """
    import copy

    from threadpoolctl import threadpool_limits

    key = data_digest(ds, names, task, n_out)
    if key not in FITTED:
        with threadpool_limits(1, user_api="blas"):
            FITTED.clear()  # keep one: a process rarely revisits older data
            FITTED[key] = _linear_baselines(ds, names, task, n_out)
    return copy.deepcopy(FITTED[key])


def _linear_baselines(ds, names, task: str, n_out: int) -> dict:
    parts = {p: ds.rows(p) for p in ("train", "val", "test")}
    x = {n: pooled(ds.x[n]) for n in names}
    present = {n: ds.mask[:, ds.names.index(n)] > 0 for n in names}
    blocks = {n: Block(x[n][parts["train"]], present[n][parts["train"]]) for n in names}
    out, uni_logp = {}, {}
    for n in names:
        rows = {p: r[present[n][r]] for p, r in parts.items()}
        z = {p: blocks[n](x[n][r], np.ones(len(r))) for p, r in rows.items()}
        c, model = fit_probe(z["train"], ds.y[rows["train"]], z["val"], ds.y[rows["val"]], n_out, task)
        uni_logp[n] = {p: log_proba(model, z[p], n_out) for p in ("val", "test")}
        out[f"probe:{n}"] = {"C": c, "rows": "rows that have the modality",
                             **{p: evaluate(task, uni_logp[n][p], ds.y[rows[p]], n_out) for p in ("val", "test")}}
    def joined(r):
        return np.hstack([blocks[n](x[n][r], present[n][r]) for n in names])

    c, model = fit_probe(joined(parts["train"]), ds.y[parts["train"]], joined(parts["val"]), ds.y[parts["val"]],
                         n_out, task)
    out["probe:concat"] = {"C": c, "rows": "all rows",
                           **{p: evaluate(task, log_proba(model, joined(parts[p]), n_out), ds.y[parts[p]], n_out)
                              for p in ("val", "test")}}
    prior = np.log((np.bincount(ds.y[parts["train"]], minlength=n_out) + 1) / (len(parts["train"]) + n_out))
    product = {}
    for p in ("val", "test"):
        r = parts[p]
        total, seen = np.zeros((len(r), n_out)), np.zeros(len(r), bool)
        for n in names:
            has = present[n][r]
            total[has] += uni_logp[n][p]
            seen |= has
        total[~seen] = prior
        product[p] = evaluate(task, total, ds.y[r], n_out)
    out["probe:product"] = {"rows": "all rows", **product}
    return out


def best_baseline(baselines: dict, n_test: int, key: str = "accuracy"):
    """The name of the best baseline on test among those scored on every test row (None if none is)."""
    comparable = {k: v["test"][key] for k, v in baselines.items() if v["test"].get("n") == n_test and key in v["test"]}
    return max(comparable, key=comparable.get) if comparable else None


def verdict(metrics: dict, key: str = "accuracy") -> dict:
    """Does the fused model beat the best comparable baseline on test, and by how much."""
    name = best_baseline(metrics.get("baselines", {}), metrics["counts"]["n_test"], key)
    if name is None or key not in metrics["test"]:
        return {}
    fused, base = metrics["test"][key], metrics["baselines"][name]["test"][key]
    return {"metric": key, "fused": fused, "best_baseline": name, "baseline": base,
            "margin": fused - base, "beats": fused > base}
