"""L1 pure core: assembling the registry of every known plugin type.

Built-in types come from the modules of our own packages ``engine.plugins.core`` and
``engine.plugins.ext`` (each exposes ``SPECS``). Third-party types come from Python entry points
in the group ``podium.plugins``: each entry point loads to a list of :class:`PluginSpec`, or to a
callable returning an iterable of them. A type name written in YAML never causes an import outside
these packages and installed entry points.

Built-in modules are imported when first asked for (:class:`BuiltinRegistry`): building every
options model costs about a second, and ``podium flow validate`` of one flow needs a few of them.
``engine/plugins/builtin_index.py`` says which module defines each type name; it is generated
(``python scripts/plugin_index.py``) and only speeds lookups up: a name it misses or misplaces
makes the registry import every built-in module before answering, as an eager one would.
"""
from __future__ import annotations

import importlib
import pkgutil
import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from engine.plugins.base import PluginKind, PluginSpec, Registry

BUILTIN_PACKAGES = ("engine.plugins.core", "engine.plugins.ext")
ENTRY_POINT_GROUP = "podium.plugins"


class PluginWarning(UserWarning):
    """A third-party plugin could not be loaded; Podium runs on without it."""


def default_registry(*, third_party: bool = True) -> Registry:
    """Every built-in type plus, unless ``third_party`` is False, the installed plugins' types.

    Broken third-party plugins are skipped with a :class:`PluginWarning`; a broken built-in
    module is a bug in Podium and raises.
    """
    from engine.plugins.builtin_index import MODULE_OF_TYPE

    registry = BuiltinRegistry(builtin_module_names(), MODULE_OF_TYPE)
    points = list(entry_points(group=ENTRY_POINT_GROUP)) if third_party else []
    if points:
        # A third-party type that reuses a built-in name is refused; that needs every built-in name.
        registry.load_all()
    for point in points:
        _register_entry_point(registry, point)
    return registry


def builtin_specs() -> list[PluginSpec]:
    """The specs of every module of the built-in plugin packages, in module-name order."""
    specs: list[PluginSpec] = []
    for name in builtin_module_names():
        specs.extend(getattr(importlib.import_module(name), "SPECS", ()))
    return specs


def builtin_module_names() -> list[str]:
    """Every module of the built-in plugin packages, in name order (found without importing them)."""
    names: list[str] = []
    for package_name in BUILTIN_PACKAGES:
        package = importlib.import_module(package_name)
        names += sorted(info.name for info in pkgutil.iter_modules(package.__path__, package_name + "."))
    return names


def builtin_index() -> dict[str, str]:
    """Each built-in type name and alias, and the module that defines it (imports every module)."""
    return {name: module_name for module_name in builtin_module_names()
            for spec in getattr(importlib.import_module(module_name), "SPECS", ()) for name in spec.names}


class BuiltinRegistry(Registry):
    """A :class:`Registry` that imports a built-in plugin module when one of its names is first asked for.

    Answers are those of a registry built from every module at once: a name the index does not
    place in a module whose specs have it loads every built-in module first, and so do ``specs()``
    and a failed ``resolve`` (whose suggestions come from every name).
    """

    def __init__(self, module_names: Sequence[str], module_of_type: Mapping[str, str]) -> None:
        super().__init__()
        self._module_names = list(module_names)
        self._module_of_type = module_of_type
        self._builtin: dict[str, list[PluginSpec]] = {}  # module name -> its specs, once imported
        self._added: list[PluginSpec] = []  # registered from outside (third-party), in order
        self._complete = False
        # Executor threads share one registry; a module's specs are registered once.
        self._loading = threading.Lock()

    def register(self, spec: PluginSpec) -> None:
        super().register(spec)
        self._added.append(spec)

    def find(self, type_name: str) -> PluginSpec | None:
        self._load_for(type_name)
        return super().find(type_name)

    def resolve(self, type_name: str, kinds: Iterable[PluginKind] | None = None) -> PluginSpec:
        wanted = tuple(kinds) if kinds is not None else None
        self._load_for(type_name)
        spec = super().find(type_name)
        if spec is None or (wanted is not None and spec.kind not in wanted):
            self.load_all()  # the error lists close matches among every name
        return super().resolve(type_name, wanted)

    def canonical(self, type_name: str) -> str:
        self._load_for(type_name)
        return super().canonical(type_name)

    def specs(self, kind: PluginKind | None = None) -> list[PluginSpec]:
        self.load_all()
        ordered = [spec for name in self._module_names for spec in self._builtin[name]] + self._added
        return [s for s in ordered if kind is None or s.kind == kind]

    def __contains__(self, type_name: object) -> bool:
        if isinstance(type_name, str):
            self._load_for(type_name)
        return super().__contains__(type_name)

    def load_all(self) -> None:
        """Imports every built-in module not imported yet."""
        if not self._complete:
            for name in self._module_names:
                self._load_module(name)
            self._complete = True

    def _load_for(self, type_name: str) -> None:
        if self._complete or super().__contains__(type_name):
            return
        module_name = self._module_of_type.get(type_name)
        if module_name in self._module_names:
            self._load_module(module_name)
        if not super().__contains__(type_name):
            self.load_all()

    def _load_module(self, module_name: str) -> None:
        with self._loading:
            if module_name in self._builtin:
                return
            specs = list(getattr(importlib.import_module(module_name), "SPECS", ()))
            for spec in specs:
                super().register(spec)
            self._builtin[module_name] = specs


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
