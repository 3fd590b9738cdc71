"""``feature_set.json``: what a feature set is (spec, fingerprint, model identity).

Written once, exclusively, by the first run. Every later run must bring the same
fingerprint: vectors computed differently never mix under one name. It also
records the store's bucket count (a changed ``mmfeat_store.json`` is then
detected, and repaired) and that the set's commit logs are hash-chained.
"""
import json
import time
from pathlib import Path

from mmfeat.errors import FingerprintMismatchError, StoreError
from mmfeat.store.files import create_exclusive_json
from mmfeat.store.layout import STORE_FILE
from mmfeat.store.log_records import repair_hint
from mmfeat.store.objects import as_path
from mmfeat.version import __version__

META_FILE = "feature_set.json"


def ensure(set_dir: Path, spec, fingerprint: str, identity: dict) -> dict:
    """Create the feature set's metadata, or check that it matches ``fingerprint``."""
    meta = {
        "name": spec.name,
        "modality": spec.modality,
        "spec": spec.to_dict(),
        "spec_origin": spec.origin,
        "fingerprint": fingerprint,
        "model_identity": identity,
        "created_by": f"mmfeat {__version__}",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "n_buckets": _store_buckets(as_path(set_dir).parent),
        "log_hashes": True,
    }
    create_exclusive_json(set_dir / META_FILE, meta)
    existing = load(set_dir)
    if existing["fingerprint"] != fingerprint:
        raise FingerprintMismatchError(
            f"{set_dir}: feature set {spec.name!r} was computed with fingerprint {existing['fingerprint'][:12]} "
            f"(spec {existing.get('spec_origin')}), but {spec.origin} gives {fingerprint[:12]}: the model, its "
            f"weights or an output-changing parameter differ. Give the new definition another name, or delete "
            f"{set_dir} to recompute everything."
        )
    if existing.get("n_buckets") not in (None, meta["n_buckets"]):
        raise StoreError(f"{as_path(set_dir).parent / STORE_FILE}: says {meta['n_buckets']} buckets, but feature set "
                         f"{spec.name!r} was written with {existing['n_buckets']}; writing now would put ids in the "
                         f"wrong buckets. {repair_hint(set_dir)}")
    return existing


def _store_buckets(root: Path) -> int | None:
    try:
        return json.loads((root / STORE_FILE).read_text())["n_buckets"]
    except (FileNotFoundError, KeyError):
        return None


def load(set_dir: Path) -> dict:
    """Read a feature set's metadata, or raise naming the missing set."""
    path = as_path(set_dir) / META_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise StoreError(f"{path.parent}: no feature set {path.parent.name!r} in this store") from None
