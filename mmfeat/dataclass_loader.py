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


def read_yaml(path, what: str):
    """Parse the YAML file ``path``; a missing file or bad YAML is a ``SpecError`` naming it and ``what`` it is."""
    from pathlib import Path

    import yaml

    path = Path(path)
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"{path}: {what} not found") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
