"""L1 pure core: assembling the registry of every known plugin type.

Built-in types come from the modules of our own packages ``engine.plugins.core`` and
``engine.plugins.ext`` (each exposes ``SPECS``). Third-party types come from Python entry points
in the group ``podium.plugins``: each entry point loads to a list of :class:`PluginSpec`, or to a
callable returning an iterable of them. A type name written in YAML never causes an import; only
these packages and installed entry points do.
"""
from __future__ import annotations

import importlib
import pkgutil
import warnings
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

from engine.plugins.base import PluginSpec, Registry

BUILTIN_PACKAGES = ("engine.plugins.core", "engine.plugins.ext")
ENTRY_POINT_GROUP = "podium.plugins"


class PluginWarning(UserWarning):
    """A third-party plugin could not be loaded; Podium runs on without it."""


def default_registry(*, third_party: bool = True) -> Registry:
    """Every built-in type plus, unless ``third_party`` is False, the installed plugins' types.

    Broken third-party plugins are skipped with a :class:`PluginWarning`; a broken built-in
    module is a bug in Podium and raises.
    """
    registry = Registry(builtin_specs())
    if third_party:
        for point in entry_points(group=ENTRY_POINT_GROUP):
            _register_entry_point(registry, point)
    return registry


def builtin_specs() -> list[PluginSpec]:
    """The specs of every module of the built-in plugin packages, in module-name order."""
    specs: list[PluginSpec] = []
    for package_name in BUILTIN_PACKAGES:
        for module in _package_modules(package_name):
            specs.extend(getattr(module, "SPECS", ()))
    return specs


def _package_modules(package_name: str) -> list[ModuleType]:
    package = importlib.import_module(package_name)
    names = sorted(info.name for info in pkgutil.iter_modules(package.__path__, package_name + "."))
    return [importlib.import_module(name) for name in names]


def _register_entry_point(registry: Registry, point: EntryPoint) -> None:
    where = f"plugin entry point '{point.name}' ({point.value}) of group '{ENTRY_POINT_GROUP}'"
    try:
        specs = _specs_of(point.load())
    except Exception as err:  # noqa: BLE001 - a third-party plugin's bug must not stop Podium
        warnings.warn(f"{where} could not be loaded and is skipped: {type(err).__name__}: {err}",
                      PluginWarning, stacklevel=2)
        return
    for spec in specs:
        if not isinstance(spec, PluginSpec):
            warnings.warn(f"{where} returned {type(spec).__name__}, not a PluginSpec; it is skipped",
                          PluginWarning, stacklevel=2)
            continue
        try:
            registry.register(spec)
        except ValueError as err:
            warnings.warn(f"{where}: {err}; the plugin's type '{spec.type}' is skipped",
                          PluginWarning, stacklevel=2)


def _specs_of(loaded: Any) -> list[Any]:
    value = loaded() if callable(loaded) else loaded
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes)):
        raise TypeError(f"expected a list of PluginSpec (or a callable returning one), "
                        f"got {type(value).__name__}")
    return list(value)
