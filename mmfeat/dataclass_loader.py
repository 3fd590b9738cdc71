"""Build frozen dataclasses from YAML mappings with errors that name the field."""
import dataclasses
import types
import typing

from mmfeat.errors import SpecError


def _accepts(tp, value) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(arg, value) for arg in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is typing.Any:
        return True
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is not None:
        return isinstance(value, origin)
    return isinstance(value, tp)


def _describe(tp) -> str:
    if typing.get_origin(tp) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def build(cls, mapping, where: str):
    """Instantiate dataclass ``cls`` from ``mapping``, checking names and types.

    ``where`` locates the mapping for messages, e.g. ``"features/x.yaml: encoder"``.
    Unknown keys, missing required keys and wrongly typed values raise
    ``SpecError`` naming the field and what it should be.
    """
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        raise SpecError(f"{where}: expected a mapping, got {type(mapping).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise SpecError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    for name, f in fields.items():
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if name not in mapping:
            if required:
                raise SpecError(f"{where}.{name}: required field is missing")
            continue
        if not _accepts(hints[name], mapping[name]):
            raise SpecError(
                f"{where}.{name}: expected {_describe(hints[name])}, got {mapping[name]!r}"
            )
    try:
        return cls(**mapping)
    except (ValueError, TypeError) as exc:
        raise SpecError(f"{where}: {exc}") from exc


MAX_YAML_BYTES = 1024 * 1024
MAX_YAML_NODES = 100_000  # counted with aliases expanded: a nested alias bomb stops here, quickly
MAX_YAML_DEPTH = 64


def _check_size(node, where: str) -> None:
    """Refuse a YAML graph that expands (aliases followed) to too many nodes or nests too deeply."""
    count, stack = 0, [(node, 1)]
    while stack:
        current, depth = stack.pop()
        count += 1
        if count > MAX_YAML_NODES:
            raise SpecError(f"{where}: YAML expands to more than {MAX_YAML_NODES} values (an alias bomb?)")
        if depth > MAX_YAML_DEPTH:
            raise SpecError(f"{where}: YAML nests deeper than {MAX_YAML_DEPTH} levels")
        if isinstance(current.value, list):
            for item in current.value:
                children = item if isinstance(item, tuple) else (item,)
                stack.extend((child, depth + 1) for child in children)


def read_yaml(path, what: str):
    """Parse the YAML file ``path`` safely; a missing, oversized, unsafe or bad file is a ``SpecError``.

    Only plain YAML types load (``safe_load``: ``!!python/...`` tags are refused).
    The file may hold at most ``MAX_YAML_BYTES``, and its value graph, with every
    alias expanded, at most ``MAX_YAML_NODES`` values nested ``MAX_YAML_DEPTH``
    deep, so a few hundred bytes of nested aliases cannot expand into gigabytes.
    """
    from pathlib import Path

    import yaml

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(data) > MAX_YAML_BYTES:
        raise SpecError(f"{path}: {what} is {len(data)} bytes, more than {MAX_YAML_BYTES}")
    loader = yaml.SafeLoader(data)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node, str(path))
        return loader.construct_document(node)
    except yaml.constructor.ConstructorError as exc:
        raise SpecError(f"{path}: refused YAML (only plain mappings, lists, strings and numbers are "
                        f"allowed): {exc}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()
