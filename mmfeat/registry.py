"""A tiny name → class registry used by every extension point (encoders, sources).

Subclass the role's base class, decorate it with ``@REGISTRY.register("name")`` and
reference ``name`` from a feature YAML.
"""
from importlib import import_module


class Registry:
    """Maps names to classes for one extension point, importing built-ins lazily.

    ``builtins`` maps a name to the module that registers it, so looking up a
    built-in imports only that module (and its heavy dependencies stay unloaded
    until then).
    """

    def __init__(self, role: str, builtins: dict[str, str] | None = None):
        self.role = role
        self._classes: dict[str, type] = {}
        self._builtins = dict(builtins or {})

    def register(self, name: str):
        """Class decorator registering ``cls`` under ``name``."""

        def wrap(cls):
            if name in self._classes and self._classes[name] is not cls:
                raise ValueError(f"{self.role} {name!r} is already registered by {self._classes[name]!r}")
            self._classes[name] = cls
            cls.registry_name = name
            return cls

        return wrap

    def get(self, name: str) -> type:
        """Return the class registered as ``name`` or raise ``KeyError`` listing the choices."""
        if name not in self._classes and name in self._builtins:
            import_module(self._builtins[name])
        if name not in self._classes:
            raise KeyError(f"unknown {self.role} {name!r}; known: {', '.join(self.names())}")
        return self._classes[name]

    def names(self) -> list[str]:
        """All registered and built-in names, sorted."""
        return sorted(set(self._classes) | set(self._builtins))
