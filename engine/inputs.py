"""L1 pure core: the inputs of a new execution, from what a caller sends to what ``{{ inputs.x }}`` reads.

:func:`resolve_inputs` follows Kestra's resolution order (docs/flow-language.md, *Inputs*): value or
``defaults``, dependencies, ``dependsOn.condition``, SELECT ``expression``, required check, parse,
validate. Every problem is collected into one :class:`InputError`. Each value is parsed by its input
type model (``engine.model.input_types``, built on the parsers of ``engine.model.input_values``).
Rendering and file storage are callables handed in, so this module stays free of I/O.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from engine import safe_json
from engine.model.flow import Flow
from engine.model.input_types import ChoiceInput, InputBase
from engine.model.input_values import as_list, as_string, shown
from engine.model.task import is_expression

#: ``(input_id, value, declared) -> URI``: the value a FILE input keeps; ``declared`` is True for the
#: flow's own ``defaults``, False for a value the caller sent (engine/storage/input_files.py).
StoreFile = Callable[[str, str, bool], str]
Render = Callable[[str, Mapping[str, Any]], Any]
_MAX_QUOTE = 300
_ESCAPES = {code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7f, 0xa0)]}


class InputError(ValueError):
    """One or more inputs were missing or invalid; ``problems`` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def input_error(input_id: str, message: str, value: Any) -> str:
    return f"Invalid input for `{input_id}`, {message}, but received `{_quoted(value)}`"


def _shown_value(spec: InputBase, value: Any) -> Any:
    """What an error may quote of a refused value: never a SECRET's, which the caller meant hidden."""
    return "******" if spec.type == "SECRET" else value


def _quoted(value: Any) -> str:
    """The value as Kestra shows it, shortened and with control characters escaped: a refused
    value may be megabytes long, nested too deep to print, or an integer too long for ``str``."""
    try:
        text = shown(value)
    except (RecursionError, ValueError):
        return f"a {type(value).__name__} too large to show"
    text = text if len(text) <= _MAX_QUOTE else text[:_MAX_QUOTE] + "…"
    return text.translate(_ESCAPES)  # one line, and no terminal escape sequence from a caller


def resolve_inputs(flow: Flow, raw: Mapping[str, Any], *, store_file: StoreFile | None = None,
                   render: Render | None = None, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The typed inputs of a new execution of ``flow``, nested by dotted ids.

    Args:
        flow: the flow whose ``inputs`` declare what is expected.
        raw: values sent by the caller, by input id (strings or typed values).
        store_file: what a FILE input keeps of its value (``StoreFile``): an upload of a host file
            for the person at the CLI, the URI as it is for a flow; without it, values are kept.
        render: ``(expression, variables) -> value`` for ``dependsOn.condition``, SELECT
            ``expression`` and expression ``defaults``/``prefill``; without it those are left unrendered.
        variables: what those expressions see besides ``inputs`` (``flow``, ``trigger``...).

    Raises:
        InputError: listing every missing or invalid input.
    """
    declared = {i.id: i for i in flow.inputs or []}
    resolved: dict[str, Any] = {}
    enabled: set[str] = set()
    problems: list[str] = []
    for spec in _dependency_order(list(declared.values())):
        context = {**(variables or {}), "inputs": nest(resolved)}
        if not _is_enabled(spec, enabled, context, render, problems):
            continue
        enabled.add(spec.id)
        try:
            resolved[spec.id] = _resolve_one(spec, raw, context, store_file, render)
        except ValueError as err:
            problems.append(str(err))
    if problems:
        raise InputError(problems)
    ordered = {i: resolved[i] for i in declared if i in resolved}
    return nest(ordered)


def _resolve_one(spec: InputBase, raw: Mapping[str, Any], context: Mapping[str, Any],
                 store_file: StoreFile | None, render: Render | None) -> Any:
    value = raw.get(spec.id)
    declared = value is None or value == "" and spec.type != "STRING"
    if declared:
        # a prefill is the value when none is sent; sent empty (cleared), the input is null
        initial = spec.prefill if spec.prefill is not None and spec.id not in raw else spec.defaults
        value = _rendered_initial(spec, initial, context, render)
    spec = _with_rendered_choices(spec, context, render)
    if value is None and declared and isinstance(spec, ChoiceInput):
        value = spec.first_value()  # autoSelectFirst
    if value is None:
        if spec.required:
            raise ValueError(input_error(spec.id, "missing required input", None))
        return None
    try:
        safe_json.check_depth(value)  # a value sent already parsed (an API body, a trigger)
        if spec.type == "FILE" and store_file is not None:
            spec.check(str(value))  # allowedFileExtensions, before a host file is uploaded
            value = store_file(spec.id, str(value), declared)
        typed = spec.parse(value)
        spec.check(typed)
    except ValueError as err:
        raise ValueError(input_error(spec.id, str(err), _shown_value(spec, value))) from None
    except RecursionError:
        raise ValueError(input_error(spec.id, safe_json.too_deep(), _shown_value(spec, value))) from None
    return typed


def _rendered_initial(spec: InputBase, value: Any, context: Mapping[str, Any], render: Render | None) -> Any:
    """``defaults`` or ``prefill``, rendered when it is an expression (Kestra 1.0+): it sees the
    inputs resolved before it, those of ``dependsOn.inputs`` and those it names."""
    if render is None or not isinstance(value, str) or not is_expression(value):
        return value
    try:
        return render(value, context)
    except Exception as err:  # noqa: BLE001 - whatever breaks the expression is the flow author's problem
        raise ValueError(input_error(spec.id, f"its default `{value}` failed to render ({err}); it may use "
                                              "other inputs, not the execution (`execution.*` is not known yet)",
                                     value)) from None


def _with_rendered_choices(spec: InputBase, context: Mapping[str, Any],
                           render: Render | None) -> InputBase:
    expression = getattr(spec, "expression", None)
    if expression is None or render is None:
        return spec
    choices = render(expression, context)
    if isinstance(choices, str):
        choices = as_list(choices)
    return spec.model_copy(update={"values": [as_string(c) for c in choices]})


def _is_enabled(spec: InputBase, enabled: set[str], context: Mapping[str, Any],
                render: Render | None, problems: list[str]) -> bool:
    depends = spec.depends_on
    if depends is None:
        return True
    if any(dep not in enabled for dep in depends.inputs):
        return False
    if depends.condition is None or render is None:
        return True
    try:
        outcome = render(depends.condition, context)
    except Exception as err:  # noqa: BLE001 - whatever breaks the condition's rendering is the flow author's problem
        problems.append(input_error(spec.id, f"its dependsOn condition failed to render: {err}",
                                    depends.condition))
        return False
    return outcome is True or str(outcome).strip().lower() == "true"


def _dependency_order(specs: list[InputBase]) -> list[InputBase]:
    """Inputs with their dependencies first; declaration order otherwise (cycles are refused
    when the flow is validated, so they can only be ignored here)."""
    by_id = {s.id: s for s in specs}
    ordered: list[InputBase] = []
    seen: set[str] = set()

    def visit(spec: InputBase, trail: frozenset[str]) -> None:
        if spec.id in seen or spec.id in trail:
            return
        for dep in [*(spec.depends_on.inputs if spec.depends_on else []), *_named_inputs(spec, by_id)]:
            if dep in by_id:
                visit(by_id[dep], trail | {spec.id})
        seen.add(spec.id)
        ordered.append(spec)

    for spec in specs:
        visit(spec, frozenset())
    return ordered


def _named_inputs(spec: InputBase, by_id: Mapping[str, InputBase]) -> list[str]:
    """The inputs an expression ``defaults`` or ``prefill`` reads (``inputs.env``): resolved first,
    as if listed in ``dependsOn.inputs``, but without hiding this input when they are missing."""
    texts = [v for v in (spec.defaults, spec.prefill) if isinstance(v, str) and is_expression(v)]
    if not texts:
        return []
    return [other for other in by_id if other != spec.id
            and any(re.search(rf"\binputs\.{re.escape(other)}(?![\w-])", text) for text in texts)]


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1, "c": 2}`` → ``{"a": {"b": 1}, "c": 2}`` (Kestra's ``flattenToNestedMap``)."""
    result: dict[str, Any] = {}
    for key, value in flat.items():
        node = result
        *parents, last = key.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[last] = value
    return result


def resolve_outputs(flow: Flow, rendered: Mapping[str, Any]) -> dict[str, Any]:
    """Flow outputs, each rendered value parsed by its declared type.

    Raises:
        InputError: listing every output whose value does not fit its type (the execution then
            ends FAILED, as in Kestra).
    """
    problems: list[str] = []
    result: dict[str, Any] = {}
    for output in flow.outputs or []:
        value = rendered.get(output.id)
        if value is None:
            if output.required is not False:
                problems.append(f"Invalid output for `{output.id}`, missing required output, "
                                f"but received `null`")
            continue
        try:
            result[output.id] = output.parse(value)
        except ValueError as err:
            problems.append(f"Invalid output for `{output.id}`, {err}, but received `{_quoted(value)}`")
    if problems:
        raise InputError(problems)
    return nest(result)
