"""A tiny name → class registry used by every extension point (encoders, sources, fusions).

Subclass the role's base class, decorate it with ``@REGISTRY.register("name")`` and
reference ``name`` from a YAML. Third-party packages need no code change in mmfeat:
they declare an entry point in the role's group (``mmfeat.encoders``,
``mmfeat.sources``, ``mmfeat.fusions``), or are imported with ``--plugin MODULE``
(see ``mmfeat.plugins``).
"""
from importlib import import_module

from mmfeat.plugins import env_plugins, load_plugins


class Registry:
    """Maps names to classes for one extension point, importing built-ins and plugins lazily.

    ``builtins`` maps a name to the module that registers it, so looking up a
    built-in imports only that module (and its heavy dependencies stay unloaded
    until then). ``group`` is the entry-point group third-party packages declare
    their classes in (``name = "package.module:Class"`` or ``name = "package.module"``);
    an entry point is loaded only when its name is looked up.
    """

    def __init__(self, role: str, builtins: dict[str, str] | None = None, *, group: str | None = None):
        self.role = role
        self.group = group
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
            load_plugins(env_plugins())  # MMFEAT_PLUGINS: what --plugin imported in a parent process
        if name not in self._classes:
            self._load_entry_point(name)
        if name not in self._classes:
            raise KeyError(f"unknown {self.role} {name!r}; known: {', '.join(self.names())}. "
                           f"A plugin's {self.role} needs its package installed (entry point group "
                           f"{self.group}) or its module named with --plugin MODULE")
        return self._classes[name]

    def names(self) -> list[str]:
        """All registered, built-in and entry-point names, sorted (no plugin is imported)."""
        return sorted(set(self._classes) | set(self._builtins) | {ep.name for ep in self._entry_points()})

    def _entry_points(self):
        if not self.group:
            return ()
        from importlib.metadata import entry_points

        return entry_points(group=self.group)

    def _load_entry_point(self, name: str) -> None:
        """Load the entry point ``name``: a module that registers it, or the class itself."""
        for ep in self._entry_points():
            if ep.name != name:
                continue
            loaded = ep.load()
            if isinstance(loaded, type) and name not in self._classes:
                self.register(name)(loaded)
            if name not in self._classes:
                dist = getattr(ep.dist, "name", "?")
                raise KeyError(f"{self.role} {name!r}: entry point {ep.value!r} of package {dist} (group "
                               f"{self.group}) registers no {self.role} of that name")
            return
