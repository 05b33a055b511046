"""L1 pure core: what a plugin is, and the registry that finds one by its type name.

A plugin type (task, trigger, condition, task runner) is a :class:`PluginSpec`: Kestra's type
name, its aliases, its kind, a pydantic options model that rejects unknown properties, and its
documentation. A type name written in YAML is only ever looked up in the :class:`Registry`;
it never causes an import. The code that *runs* a runnable task is named by the spec
(``implementation``, a ``module:function`` path chosen by Podium or by an installed plugin's
author) and imported by the worker, never by this module.

Conventions every options model follows:
- Python attributes are snake_case; YAML keys are Kestra's camelCase (``allow_failure`` is
  ``allowFailure``). Python keywords take a trailing underscore (``else_`` is ``else``).
- Child task lists are typed :data:`TaskList` (``list[Task]``), so nested tasks are parsed
  through the registry passed in the validation context (``context={"registry": registry}``).
"""
from __future__ import annotations

import builtins
import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, WrapValidator
from pydantic.alias_generators import to_camel

from engine.plugins.kinds import PluginKind as PluginKind  # re-exported: every plugin module imports it from here


def _to_alias(name: str) -> str:
    return to_camel(name.rstrip("_"))


class Options(BaseModel):
    """Base of every options model: strict keys, camelCase in YAML, immutable once parsed."""

    model_config = ConfigDict(extra="forbid", alias_generator=_to_alias, populate_by_name=True,
                              frozen=True, arbitrary_types_allowed=True)


class UnknownType(ValueError):
    """A type name that no registered plugin answers to."""

    def __init__(self, type_name: str, suggestions: list[str], category: str = "type") -> None:
        hint = f" (did you mean '{suggestions[0]}'?)" if suggestions else ""
        super().__init__(f"unknown {category} '{type_name}'{hint}")
        self.type_name, self.suggestions = type_name, suggestions


@dataclass(frozen=True)
class PluginSpec:
    """A plugin type: its names, kind, options model and documentation."""

    type: str
    kind: PluginKind
    options: builtins.type[BaseModel]  # ``builtins``: the field ``type`` above hides the built-in here
    title: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    # "module:function" of the code that runs it (runnables, triggers that poll); None when the
    # executor handles it itself. Imported lazily by the worker only.
    implementation: str | None = None
    # False for types that validate but cannot run in Podium: running one fails with a clear
    # "not implemented yet" error instead of silently succeeding.
    implemented: bool = True
    # Why this type cannot run in this installation although it is implemented (a missing optional
    # dependency: a Python package, a program), or None when it can; ``engine.plugins.availability``
    # builds common ones. Called by ``flow validate`` and ``run`` before anything starts, never per task run.
    probe: Callable[[], str | None] | None = None
    deprecated: bool = False
    properties_doc: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.type, *self.aliases)


class Registry:
    """Every known plugin type, looked up by its Kestra type name or one of its aliases."""

    def __init__(self, specs: Iterable[PluginSpec] = ()) -> None:
        self._by_name: dict[str, PluginSpec] = {}
        self._specs: list[PluginSpec] = []
        for spec in specs:
            self.register(spec)

    def register(self, spec: PluginSpec) -> None:
        for name in spec.names:
            existing = self._by_name.get(name)
            if existing is not None and existing is not spec:
                raise ValueError(f"plugin type '{name}' is registered twice "
                                 f"({existing.type} and {spec.type})")
        for name in spec.names:
            self._by_name[name] = spec
        self._specs.append(spec)

    def find(self, type_name: str) -> PluginSpec | None:
        return self._by_name.get(type_name)

    def resolve(self, type_name: str, kinds: Iterable[PluginKind] | None = None) -> PluginSpec:
        """The spec for ``type_name``; raises UnknownType with close matches as suggestions."""
        wanted = tuple(kinds) if kinds is not None else None
        spec = self._by_name.get(type_name)
        if spec is not None and (wanted is None or spec.kind in wanted):
            return spec
        candidates = [name for name, s in self._by_name.items() if wanted is None or s.kind in wanted]
        suggestions = difflib.get_close_matches(type_name, candidates, n=3, cutoff=0.6)
        category = _category(wanted)
        if spec is not None:
            raise UnknownType(type_name, suggestions, f"{category} (it is a {spec.kind.value})")
        raise UnknownType(type_name, suggestions, category)

    def canonical(self, type_name: str) -> str:
        spec = self._by_name.get(type_name)
        return spec.type if spec is not None else type_name

    def specs(self, kind: PluginKind | None = None) -> list[PluginSpec]:
        return [s for s in self._specs if kind is None or s.kind == kind]

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._by_name


TASK_KINDS = (PluginKind.RUNNABLE, PluginKind.FLOWABLE, PluginKind.EXECUTABLE,
              PluginKind.EXECUTION_UPDATE)


def _category(kinds: tuple[PluginKind, ...] | None) -> str:
    if kinds == TASK_KINDS:
        return "task type"
    if kinds == (PluginKind.TRIGGER,):
        return "trigger type"
    if kinds == (PluginKind.CONDITION,):
        return "condition type"
    return "type"


def _typed_parser(kinds: tuple[PluginKind, ...], what: str) -> Callable[..., Any]:
    def parse(value: Any, handler: Callable[[Any], Any], info: ValidationInfo) -> Any:
        if isinstance(value, BaseModel):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"a {what} must be a mapping with 'id' and 'type', got {type(value).__name__}")
        registry: Registry | None = (info.context or {}).get("registry")
        if registry is None:
            raise ValueError("no plugin registry in the validation context")
        type_name = value.get("type")
        if not isinstance(type_name, str):
            raise ValueError(f"a {what} needs a 'type'")
        spec = registry.resolve(type_name, kinds)
        return spec.options.model_validate({**value, "type": spec.type}, context=info.context)
    return parse


# A task, trigger or condition written in YAML, parsed by its own options model.
Task = Annotated[Any, WrapValidator(_typed_parser(TASK_KINDS, "task"))]
TaskList = list[Task]
Trigger = Annotated[Any, WrapValidator(_typed_parser((PluginKind.TRIGGER,), "trigger"))]
Condition = Annotated[Any, WrapValidator(_typed_parser((PluginKind.CONDITION,), "condition"))]
# A task runner (``taskRunner`` of script tasks), parsed through the registry like a task.
TaskRunner = Annotated[Any, WrapValidator(_typed_parser((PluginKind.TASK_RUNNER,), "task runner"))]
