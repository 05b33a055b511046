"""L1 pure core: the JSON schema (draft 7) of a flow, built from the plugin registry.

Editors use it for completion and inline validation (Kestra serves the same thing at
``/api/v1/plugins/schemas/flow``). Every plugin type becomes a definition named by its type,
carrying its title, description, examples and, on templated properties, ``"dynamic": true``;
``Task``, ``Trigger``, ``Condition``, ``TaskRunner`` and ``Input`` are ``oneOf`` those definitions.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from engine.model.flow import Flow
from engine.model.inputs import INPUT_MODELS, Input
from engine.plugins import base
from engine.plugins.base import PluginKind, PluginSpec, Registry

DRAFT_7 = "http://json-schema.org/draft-07/schema#"
REF = "#/definitions/{model}"
_UNION_MARK = "x-podium-union"
# The wrap validators that parse a mapping through the registry, and the union each stands for.
_UNIONS: dict[Callable[..., Any], str] = {
    base.Task.__metadata__[0].func: "Task",
    base.Trigger.__metadata__[0].func: "Trigger",
    base.Condition.__metadata__[0].func: "Condition",
    base.TaskRunner.__metadata__[0].func: "TaskRunner",
    Input.__metadata__[0].func: "Input",
}
_KINDS = {
    "Task": base.TASK_KINDS, "Trigger": (PluginKind.TRIGGER,), "Condition": (PluginKind.CONDITION,),
    "TaskRunner": (PluginKind.TASK_RUNNER,),
}


class _Generator(GenerateJsonSchema):
    """Points registry-parsed fields (typed ``Any`` in Python) at their union definition."""

    def function_wrap_schema(self, schema: core_schema.WrapValidatorFunctionSchema) -> JsonSchemaValue:
        union = _UNIONS.get(schema["function"]["function"])
        if union is not None:
            # A marker, not a "$ref": pydantic would look the name up in its own definitions.
            return {_UNION_MARK: union}
        return super().function_wrap_schema(schema)


def _link_unions(node: Any) -> Any:
    """Turns the generator's union markers into ``$ref``s, everywhere in ``node``."""
    if isinstance(node, dict):
        linked = {k: _link_unions(v) for k, v in node.items() if k != _UNION_MARK}
        if _UNION_MARK in node:
            linked["$ref"] = REF.format(model=node[_UNION_MARK])
        return linked
    if isinstance(node, list):
        return [_link_unions(item) for item in node]
    return node


def flow_schema(registry: Registry) -> dict[str, Any]:
    """The draft-7 JSON schema of a whole flow."""
    return _document(registry, {"$ref": REF.format(model="Flow")})


def plugin_schema(registry: Registry, type_name: str) -> dict[str, Any]:
    """The draft-7 JSON schema of one plugin type (raises UnknownType with suggestions)."""
    spec = registry.resolve(type_name)
    return _document(registry, {"$ref": REF.format(model=spec.type)})


def _document(registry: Registry, root: dict[str, Any]) -> dict[str, Any]:
    specs = registry.specs()
    models: list[type[BaseModel]] = [Flow, *INPUT_MODELS, *dict.fromkeys(s.options for s in specs)]
    refs, combined = models_json_schema([(m, "validation") for m in models], by_alias=True,
                                        ref_template=REF, schema_generator=_Generator)
    definitions: dict[str, Any] = _link_unions(combined.get("$defs", {}))

    def name_of(model: type[BaseModel]) -> str:
        return str(refs[(model, "validation")]["$ref"]).rsplit("/", 1)[1]

    for spec in specs:
        definitions[spec.type] = _spec_definition(spec, name_of(spec.options))
    for union, kinds in _KINDS.items():
        members = [s.type for s in specs if s.kind in kinds]
        definitions[union] = {"oneOf": [{"$ref": REF.format(model=m)} for m in members]} if members \
            else {"type": "object"}
    definitions["Input"] = {"oneOf": [{"$ref": REF.format(model=name_of(m))} for m in INPUT_MODELS]}
    definitions.setdefault("Flow", definitions.get(name_of(Flow), {}))
    return {"$schema": DRAFT_7, **root, "definitions": definitions}


def _spec_definition(spec: PluginSpec, model_name: str) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "title": spec.title,
        "allOf": [{"$ref": REF.format(model=model_name)}],
        "properties": {"type": {"enum": list(spec.names)}},
        "required": ["type"],
        "x-kind": spec.kind.value,
    }
    if spec.description:
        definition["description"] = spec.description
    if spec.examples:
        definition["examples"] = list(spec.examples)
    if spec.deprecated:
        definition["deprecated"] = True
    if not spec.implemented:
        definition["x-implemented"] = False
    return definition
