"""Use a trained run: evaluate it again on the store, or write its predictions back into the store."""
import hashlib
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from mmfeat.errors import MmfeatError
from mmfeat.store import FeatureStore, feature_set
from mmfeat.store.files import replace_json
from mmfeat.store.layout import new_run_id
from mmfeat.store.snapshots import SnapshotExpiredError
from mmfeat.store.vectors import replace_bucket
from mmfeat.train.checkpoint import Checkpoint
from mmfeat.train.columns import column_arrays
from mmfeat.train.data import open_data
from mmfeat.train.evaluation import evaluate_all


def run_config(run_dir):
    """The resolved TrainConfig a run saved in ``config.json``."""
    import json

    from mmfeat.train.config import TrainConfig

    path = Path(run_dir) / "config.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise MmfeatError(f"{run_dir}: not a training run directory (no config.json)") from None
    raw.pop("origin", None)
    return TrainConfig.from_dict(raw, origin=str(path))


def run_store(run_dir, root, names, *, latest: bool = False, storage_options: dict | None = None):
    """The store as run ``run_dir`` read it (its recorded snapshot of ``names``), or with ``latest`` as it
    is now; plus what changed since: ``{"as_of": "training"|"latest", "snapshot": …, "changed": [...]}``.

    Runs written before snapshots existed have none recorded: they read the latest data, and say so.
    """
    import json

    from mmfeat.store.snapshots import Snapshot

    store = FeatureStore(root, storage_options=storage_options)
    now = store.snapshot(names)
    try:
        recorded = json.loads((Path(run_dir) / "metrics.json").read_text()).get("snapshot")
    except FileNotFoundError:
        recorded = None
    if recorded is None:
        return store, {"as_of": "latest", "snapshot": now.to_dict(), "changed": None}
    trained = Snapshot({n: v for n, v in Snapshot.from_dict(recorded).sets.items() if n in names})
    changed = [{"set": old.name, "trained": old.to_dict(), "now": new.to_dict()} for old, new in trained.changed(now)]
    ahead = [c["set"] for c in changed if any(o > n for o, n in zip(c["trained"]["buckets"], c["now"]["buckets"]))]
    if ahead and not latest:
        raise MmfeatError(f"{root}: feature set(s) {', '.join(ahead)} have fewer commits than when {run_dir} was "
                          f"trained: this is another store, or they were deleted and made again; pass --latest to "
                          f"use their current data")
    used = now if latest else trained
    return store.at(used), {"as_of": "latest" if latest else "training", "snapshot": used.to_dict(),
                            "changed": changed}


def data_note(data: dict) -> str | None:
    """One line for the user when the inputs changed since training (or no versions were recorded)."""
    if data["changed"] is None:
        return "the run predates store snapshots (no versions recorded): the latest data was used"
    if not data["changed"]:
        return None
    sets = "; ".join(f"{c['set']} version {c['trained']['version']} ({c['trained']['time']}) -> "
                     f"{c['now']['version']} ({c['now']['time']})" for c in data["changed"])
    if data["as_of"] == "latest":
        return f"the data changed since training: {sets}; the current data was used (--latest)"
    return f"the data changed since training: {sets}; the training-time versions were used (--latest: current)"


@contextmanager
def explain_expiry(data: dict):
    """Add the way out to a SnapshotExpiredError met while reading a run's training-time data."""
    try:
        yield
    except SnapshotExpiredError as exc:
        if data["as_of"] != "training":
            raise
        raise SnapshotExpiredError(f"{exc}. The run's training-time versions are read by default; --latest "
                                   f"(latest=True) reads the current data instead") from None


def evaluate_run(run_dir, *, store=None, latest: bool = False, storage_options: dict | None = None) -> dict:
    """Recompute val/test metrics (and every modality subset on test) from the checkpoint and the store,
    as of training unless ``latest`` (``out["data"]`` says which versions, and what changed since)."""
    cfg, ckpt = run_config(run_dir), Checkpoint(run_dir)
    view, data = run_store(run_dir, store or cfg.store, ckpt.features, latest=latest,
                           storage_options=storage_options)
    with explain_expiry(data):
        ds = open_data(cfg, view, ckpt.features)
    if ds.classes != ckpt.classes:
        raise MmfeatError(f"{cfg.labels.path}: labels {ds.classes} differ from the model's {ckpt.classes}")
    n_out = len(ckpt.classes) if ckpt.classes else 1

    def logits(rows, masks):
        return ds.logits(ckpt.logits, rows, masks, ckpt.features)

    out = evaluate_all(ds, ckpt.features, cfg.task, n_out, ckpt.temperature, logits)
    out.update(task=cfg.task, features=ckpt.features, counts=ds.counts, evaluated_at=time.time(), data=data)
    replace_json(Path(run_dir) / "evaluation.json", out)
    return out


def _row_keys(xs, mask) -> list[str]:
    """A content key per row: a digest of its input vectors and mask (unchanged inputs → same key)."""
    keys = []
    for i in range(len(mask)):
        h = hashlib.blake2b(mask[i].tobytes(), digest_size=16)
        for x in xs:
            h.update(x[i].tobytes())
        keys.append(h.hexdigest())
    return keys


def predict_to_store(run_dir, name: str, *, store=None, output: str = "probs", latest: bool = False,
                     storage_options: dict | None = None) -> dict:
    """Write the run's predictions for every id in its input feature sets as feature set ``name``.

    Bucket by bucket (no global shuffle), one commit per bucket replacing the
    bucket's previous predictions. Ids missing from some inputs are predicted
    with those modalities masked. Inputs are read as of training unless ``latest``.
    """
    from mmfeat.spec import FeatureSpec

    cfg, ckpt = run_config(run_dir), Checkpoint(run_dir)
    store, data = run_store(run_dir, store or cfg.store, ckpt.features, latest=latest,
                            storage_options=storage_options)
    if output == "embedding" and ckpt.kind != "joint":
        raise MmfeatError(f"{run_dir}: --output embedding needs a joint model")
    inputs = [f"{n}:{store.info(n)['fingerprint']}" for n in ckpt.features]
    spec = FeatureSpec.from_dict({
        "name": name, "modality": "derived", "input": {"column": "-"},
        "description": f"{output} of {ckpt.kind} model {Path(run_dir).resolve()}",
        "encoder": {"kind": "model-output", "run": str(Path(run_dir).resolve()), "output": output,
                    "inputs": inputs, "weights_sha256": ckpt.weights_sha256}})
    fingerprint = spec.fingerprint({})
    set_dir = store.set_dir(name)
    # The class names ride in the set's metadata (model_identity), so `mmfeat show` names the columns.
    identity = {"weights_sha256": ckpt.weights_sha256, "inputs": inputs}
    if output == "probs" and ckpt.classes:
        identity["classes"] = list(ckpt.classes)
    feature_set.ensure(set_dir, spec, fingerprint, identity)
    run_id = new_run_id()
    with explain_expiry(data):
        n_rows = _predict_buckets(store, cfg, ckpt, set_dir, output, fingerprint, run_id)
    report = {"run_id": run_id, "feature_set": name, "n_rows": n_rows, "output": output,
              "model_run": str(Path(run_dir).resolve()), "inputs": inputs, "classes": ckpt.classes, "data": data}
    replace_json(set_dir / "runs" / f"{run_id}.json", report)
    return report


def _predict_buckets(store, cfg, ckpt, set_dir, output, fingerprint, run_id) -> int:
    """Predict bucket by bucket, one commit per bucket; return the number of rows written."""
    n_rows = 0
    for bucket, piece in enumerate(store.join_buckets(ckpt.features, how="outer", chunks=bool(cfg.sequences))):
        ids = piece["id"].to_pylist()
        xs, mask = [], np.zeros((len(ids), len(ckpt.features)), np.float32)
        for m, feature in enumerate(ckpt.features):
            x, mask[:, m] = column_arrays(piece, feature, sequence=feature in cfg.sequences,
                                          max_chunks=cfg.max_chunks, dim=ckpt.dims[feature])
            xs.append(x)
        values = (ckpt.probabilities(xs, mask) if output == "probs" else ckpt.embedding(xs, mask)) if ids else []
        replace_bucket(set_dir, bucket, ids, values, _row_keys(xs, mask), run_id=run_id,
                       info={"fingerprint": fingerprint})
        n_rows += len(ids)
    return n_rows
