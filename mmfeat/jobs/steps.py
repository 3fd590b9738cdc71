"""The steps of a job: what each reads and writes (for the order), when it may be skipped, how it runs.

An extract step always runs: it is the cheap authority on what changed (stored rows
are skipped, unchanged failures are kept, no model loads when nothing is new). A
train step is skipped when its inputs are exactly those of its last successful run
in this job: the config (resolved, and the file's sha256), the labels file's sha256
and every input feature set's commit-log heads. A predict step is skipped when its
model files and input sets are unchanged since its last success and its output set
exists. ``--force`` runs them anyway.
"""
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from mmfeat.errors import SpecError

ERRORS_SHOWN = 10


@dataclass
class Step:
    """One node of the job's graph. ``needs`` and ``makes`` are ``("set", name)`` / ``("run", dir)`` keys."""

    kind: str
    name: str
    item: object
    needs: set = field(default_factory=set)
    makes: set = field(default_factory=set)
    config: object = None  # the TrainConfig of a train step

    @property
    def id(self) -> str:
        """``KIND NAME``, e.g. ``train fusion``: the step's key in the report and the job state."""
        return f"{self.kind} {self.name}"


def build_steps(job) -> list[Step]:
    """The job's steps in dependency order (each after every step making what it needs; else file order)."""
    from mmfeat.train.config import load_config

    steps = [Step("extract", spec.name, item, makes={("set", spec.name)}) for item, spec in zip(job.features,
                                                                                                 job.specs)]
    runs = {}
    for item in job.train:
        cfg = load_config(item.config)
        cfg = dataclasses.replace(cfg, store=job.store, out=item.out or cfg.out)
        runs[item.name] = str(Path(cfg.out).resolve())
        steps.append(Step("train", item.name, item, needs={("set", f) for f in cfg.features},
                          makes={("run", runs[item.name])}, config=cfg))
    for item in job.predict:
        run = runs[item.train] if item.train else str(Path(item.run).resolve())
        steps.append(Step("predict", item.name, item, needs={("run", run)}, makes={("set", item.name)}))
    return _ordered(steps, job.origin)


def _ordered(steps: list[Step], origin: str) -> list[Step]:
    makers = {key: s for s in steps for key in s.makes}
    done, out = set(), []
    while len(out) < len(steps):
        ready = [s for s in steps if s.id not in done and all(makers[k].id in done for k in s.needs if k in makers)]
        if not ready:
            stuck = ", ".join(s.id for s in steps if s.id not in done)
            raise SpecError(f"{origin}: steps depend on each other in a circle: {stuck}")
        out.append(ready[0])
        done.add(ready[0].id)
    return out


def upstream(step: Step, steps: list[Step]) -> list[Step]:
    """The steps that make what ``step`` needs."""
    return [s for s in steps if s.makes & step.needs]


# -- skip keys ----------------------------------------------------------------------------------
def _set_heads(store_root, names) -> dict:
    """Per feature set, a digest of its buckets' commit-log versions and heads (None if absent)."""
    from mmfeat.errors import StoreError
    from mmfeat.store import FeatureStore

    try:
        store = FeatureStore(store_root)
    except StoreError:
        return {n: None for n in names}
    present = set(store.list())
    out = {}
    for name in names:
        heads = [(s.version, s.head) for s in store.states(name)] if name in present else None
        out[name] = hashlib.sha256(json.dumps(heads).encode()).hexdigest() if heads else None
    return out


def _file_sha(path) -> str | None:
    from mmfeat.hashing import sha256_file

    try:
        return sha256_file(path)
    except OSError:
        return None  # a URI or a missing file: left out of the key (the run itself reports it)


def _digest(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def skip_key(step: Step, store_root) -> str | None:
    """The digest of everything ``step``'s output depends on, or None for steps that always run."""
    if step.kind == "train":
        cfg = step.config
        resolved = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "origin"}
        return _digest({"config": resolved, "config_sha256": _file_sha(step.item.config),
                        "labels_sha256": _file_sha(cfg.labels.path),
                        "inputs": _set_heads(store_root, cfg.features)})
    if step.kind == "predict":
        run = Path(next(iter(step.needs))[1])
        try:
            features = json.loads((run / "config.json").read_text())["features"]
        except (OSError, ValueError, KeyError):
            return None  # no trained run yet: run it (and let predict name the problem)
        files = {p.name: _file_sha(p) for p in sorted(run.glob("model*")) + [run / "config.json"]}
        return _digest({"run": str(run), "files": files, "output": step.item.output,
                        "inputs": _set_heads(store_root, features)})
    return None


def output_present(step: Step, store_root) -> bool:
    """Whether what a skippable step wrote is still there (a deleted run dir or set is made again)."""
    if step.kind == "train":
        return (Path(step.config.out) / "metrics.json").exists()
    if step.kind == "predict":
        from mmfeat.errors import StoreError
        from mmfeat.store import FeatureStore

        try:
            return step.name in FeatureStore(store_root).list()
        except StoreError:
            return False
    return False


# -- running ------------------------------------------------------------------------------------
def run_extract(step: Step, job) -> dict:
    """Run one extract step; the result's ``exit_status`` is 3 if its error rate is too high."""
    from mmfeat.beam.extract_job import extract
    from mmfeat.extract.report import error_rate

    item = step.item
    report = extract(job.specs[job.features.index(item)], job.store, item.inputs,
                     beam_args=[*job.beam_args, *item.beam_args], id_column=item.id_column,
                     n_buckets=job.buckets, source=item.source, n_slots=item.slots, chunk_rows=item.chunk_rows,
                     retry_errors=item.retry_errors)
    rate = error_rate(report)
    out = {"counts": {k: report[k] for k in ("n_input", "n_ok", "n_error", "n_skipped", "n_encoded")},
           "error_rate": round(rate, 6), "model_loaded": "load" in report.get("unit_seconds", {}),
           "extract_run_id": report["run_id"],
           "errors_by_reason": dict(list(report.get("errors_by_reason", {}).items())[:ERRORS_SHOWN]),
           "status": "ok", "exit_status": 0}
    if report["n_input"] and report["n_error"] == report["n_input"]:
        out.update(status="error_rate", exit_status=3, error=f"every one of the {report['n_input']} input rows "
                                                            f"failed")
    elif item.max_error_rate is not None and rate > item.max_error_rate:
        out.update(status="error_rate", exit_status=3,
                   error=f"error rate {rate:.4f} exceeds max_error_rate {item.max_error_rate}")
    return out


def run_train(step: Step, job) -> dict:
    """Run one train step through ``mmfeat.train.run.train``."""
    from mmfeat.train.run import train

    metrics = train(step.config, progress=False)
    return {"status": "ok", "exit_status": 0, "run_dir": str(step.config.out), "counts": metrics.get("counts"),
            "test": metrics.get("test"), "model_loaded": True}


def run_predict(step: Step, job) -> dict:
    """Run one predict step through ``mmfeat.train.inference.predict_to_store``."""
    from mmfeat.train.inference import predict_to_store

    run = next(iter(step.needs))[1]
    report = predict_to_store(run, step.name, store=job.store, output=step.item.output)
    return {"status": "ok", "exit_status": 0, "counts": {"n_rows": report["n_rows"]}, "run_dir": run,
            "predict_run_id": report["run_id"], "model_loaded": True}


RUNNERS = {"extract": run_extract, "train": run_train, "predict": run_predict}

