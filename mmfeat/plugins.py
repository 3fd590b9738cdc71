"""Plugin modules: third-party code that registers encoders, sources or fusions when imported.

Two ways in, both needing no change to mmfeat:

* an installed package declaring an entry point (``[project.entry-points."mmfeat.encoders"]``
  ``char-hist = "mmfeat_charhist:CharHistEncoder"``), loaded by the registry when the name
  is first looked up;
* a module named with ``mmfeat --plugin MODULE`` (repeatable), imported before the
  command runs.

Modules imported here are listed in ``MMFEAT_PLUGINS`` (comma-separated), which child
processes inherit (local multi-process runners); the registry imports that list
before it reports an unknown name. Remote workers get the list from the job:
``loaded_plugins()`` at pipeline construction, ``load_plugins(modules)`` in worker setup.
"""
import os
from importlib import import_module

from mmfeat.errors import MmfeatError

ENV = "MMFEAT_PLUGINS"
_loaded: list[str] = []


class PluginError(MmfeatError):
    """A plugin module named on the command line, in ``MMFEAT_PLUGINS`` or in a job cannot be imported."""


def load_plugins(modules) -> list[str]:
    """Import each plugin module (once per process) and record it in ``MMFEAT_PLUGINS``; return them."""
    for module in modules or ():
        module = module.strip()
        if not module or module in _loaded:
            continue
        try:
            import_module(module)
        except ImportError as exc:
            raise PluginError(f"plugin {module!r} cannot be imported ({type(exc).__name__}: {exc}); install its "
                              f"package where mmfeat runs, or put its directory on PYTHONPATH") from exc
        _loaded.append(module)
    if _loaded:
        os.environ[ENV] = ",".join(dict.fromkeys([*env_plugins(), *_loaded]))
    return list(modules or ())


def loaded_plugins() -> list[str]:
    """The plugin modules imported in this process, in order: what a job ships to its workers."""
    return list(_loaded)


def env_plugins() -> list[str]:
    """The plugin modules listed in ``MMFEAT_PLUGINS``."""
    return [m for m in os.environ.get(ENV, "").split(",") if m.strip()]
