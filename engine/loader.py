"""L1 pure core: reading flow YAML with the line and column of every value.

PyYAML's composer gives a node tree with marks; we build plain Python data from it ourselves so
that every mapping key and value keeps its position, duplicate keys are caught (Kestra refuses
them), and YAML 1.1 surprises are avoided: dates stay strings (as Jackson reads them) and only
``true``/``false`` are booleans (``on``/``yes`` stay text). The original text is kept verbatim.
Every text is read within the limits of ``engine.safe_yaml`` (size, aliases, nesting, numbers).
The only I/O is :func:`read_flow_file` reading the path its caller gives.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine import safe_yaml
from engine.model.flow import Flow
from engine.model.flow_rules import format_path
from engine.plugin_defaults import apply_plugin_defaults
from engine.plugins.base import Registry
from engine.safe_yaml import CountingResolver, LimitedComposer, LimitedConstructor
from engine.validation import FlowValidationError, Position, Problem, problems_from_errors

Loc = tuple[Any, ...]


class _Resolver(yaml.resolver.Resolver):
    """YAML 1.2-like scalars: no timestamps, booleans only ``true``/``false``."""


_Resolver.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()}
_Resolver.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                list("tTfF"))


class _Loader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, LimitedComposer,
              LimitedConstructor, CountingResolver, _Resolver):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        LimitedComposer.__init__(self)
        LimitedConstructor.__init__(self)
        _Resolver.__init__(self)


_FAST = safe_yaml.FAST
if _FAST:
    from yaml._yaml import CParser  # libyaml's binding: importable only where libyaml is installed

    class _FastLoader(CParser, LimitedConstructor, CountingResolver, _Resolver):
        """The same loader on libyaml's C parser (10x faster on a 1000-task flow: every worker
        process parses each flow revision it runs once). Its syntax errors are reported again by
        the pure-Python loader, whose messages are the ones documented and tested."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            LimitedConstructor.__init__(self)
            _Resolver.__init__(self)


@dataclass
class YamlDocument:
    """One YAML document: its data, where each part of it was written, and its own problems."""

    data: Any
    path: str
    source: str
    positions: dict[Loc, Position] = field(default_factory=dict)
    key_positions: dict[Loc, Position] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    values: int = 0  # built so far, bounded by safe_yaml.MAX_VALUES

    def locate(self, loc: Loc) -> Position:
        """Where ``loc`` (or its nearest written ancestor) is in the file."""
        for size in range(len(loc), -1, -1):
            position = self.positions.get(tuple(loc[:size]))
            if position is not None:
                return position
        return Position(1, 1)

    def locate_key(self, loc: Loc) -> Position:
        """Where the mapping key ending ``loc`` is written (for "unknown property" errors)."""
        return self.key_positions.get(tuple(loc)) or self.locate(loc)


@dataclass(frozen=True)
class LoadedFlow:
    """A parsed flow with the source it came from (stored verbatim, comments included)."""

    flow: Flow
    source: str
    path: str | None = None


FlowSource = LoadedFlow


def parse_yaml(source: str, path: str = "<string>") -> list[YamlDocument]:
    """Every document of ``source``; raises FlowValidationError on a YAML syntax error or a text
    beyond the limits of ``engine.safe_yaml`` (size, values, aliases, nesting, number length)."""
    try:
        safe_yaml.check_size(source)
        return safe_yaml.parse_with_fallback(lambda loader, text: _parse_with(loader, text, path),
                                             _FastLoader if _FAST else None, _Loader, source)
    except yaml.YAMLError as err:
        raise FlowValidationError([_yaml_problem(err, source, path)]) from None


def _parse_with(loader_class: type[Any], source: str, path: str) -> list[YamlDocument]:
    documents: list[YamlDocument] = []
    # Without both an anchor (&) and an alias (*) sign nothing is shared: _build's own count of
    # values and depth is enough, and a big flow is spared a second walk over its nodes.
    shared = "&" in source and "*" in source
    loader = None
    try:
        loader = loader_class(source)  # the reader refuses control characters here
        while loader.check_node():
            node = loader.get_node()
            if shared:
                safe_yaml.check_graph(node)
            document = YamlDocument(None, path, source)
            document.data = _build(loader, node, (), document, 1)
            documents.append(document)
    except RecursionError:
        raise safe_yaml.YamlLimitError(safe_yaml.too_deep()) from None
    finally:
        if loader is not None:
            loader.dispose()
    return documents


def _yaml_problem(err: yaml.YAMLError, source: str, path: str) -> Problem:
    if isinstance(err, yaml.reader.ReaderError):
        return Problem(path, Position(*safe_yaml.position_of(source, err.position)), "",
                       safe_yaml.reader_problem(err))
    if not isinstance(err, yaml.MarkedYAMLError):
        return Problem(path, Position(1, 1), "", f"YAML syntax error: {err}")
    mark = err.problem_mark or err.context_mark
    position = Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)
    if isinstance(err, (safe_yaml.YamlLimitError, ConstructorError)):
        return Problem(path, position, "", str(err.problem) + (f" ({err.context})" if err.context else ""))
    message = f"YAML syntax error: {err.problem or 'invalid YAML'}"
    if err.context:
        started = err.context_mark
        where = f" that started at line {started.line + 1}, column {started.column + 1}" \
            if started is not None and started is not mark else ""
        message += f" ({err.context}{where})"
    return Problem(path, position, "", message, "check the indentation and quoting around this line")


def _build(loader: _Loader, node: Node, loc: Loc, doc: YamlDocument, depth: int) -> Any:
    """The value of ``node`` (its aliases' expansion is bounded by ``safe_yaml.check_graph``)."""
    doc.positions.setdefault(loc, _position(node))
    doc.values += 1
    if depth > safe_yaml.MAX_DEPTH:
        raise safe_yaml.YamlLimitError(safe_yaml.too_deep(), node.start_mark)
    if doc.values > safe_yaml.MAX_VALUES:
        raise safe_yaml.YamlLimitError(safe_yaml.too_many_values(), node.start_mark)
    if isinstance(node, MappingNode):
        return _build_mapping(loader, node, loc, doc, depth)
    if isinstance(node, SequenceNode):
        return [_build(loader, item, loc + (i,), doc, depth + 1) for i, item in enumerate(node.value)]
    try:
        return loader.construct_object(node, deep=True)
    except yaml.MarkedYAMLError as err:
        problem = _yaml_problem(err, doc.source, doc.path)
        doc.problems.append(Problem(problem.file, problem.position, format_path(loc), problem.message))
        return node.value  # the text as written, so that no second problem is reported for it


def _build_mapping(loader: _Loader, node: MappingNode, loc: Loc, doc: YamlDocument,
                   depth: int) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    first_seen: dict[Any, Position] = {}
    for key_node, value_node in node.value:
        key_position = _position(key_node)
        if not isinstance(key_node, ScalarNode):
            doc.problems.append(Problem(doc.path, key_position, format_path(loc),
                                        "a key must be a plain value (text or a number), not a list or mapping",
                                        "write the key as text"))
            continue
        _build(loader, key_node, loc, doc, depth + 1)  # counted and checked like any value
        # Kestra reads every key as its text (Jackson field names): `1:` and `true:` are "1" and "true".
        key = key_node.value
        if key in first_seen:
            doc.problems.append(Problem(
                doc.path, key_position, format_path(loc + (key,)),
                f"duplicate key '{key}' (first defined at line {first_seen[key].line}); "
                "Kestra refuses duplicate keys: keep only one"))
        first_seen.setdefault(key, key_position)
        # Scalars are pointed at by their value, containers by their key.
        child = loc + (key,)
        doc.key_positions[child] = key_position
        doc.positions[child] = _position(value_node) if isinstance(value_node, ScalarNode) \
            and value_node.value != "" else key_position
        result[key] = _build(loader, value_node, child, doc, depth + 1)
    return result


def _position(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


# ----------------------------------------------------------------------------- flows

def check_document(document: YamlDocument, registry: Registry, *,
                   global_defaults: Sequence[Mapping[str, Any]] = (),
                   worker_groups: Iterable[str] | None = None) -> tuple[Flow | None, list[Problem]]:
    """The flow of one YAML document and every problem found in it (the flow is None if any)."""
    problems = list(document.problems)
    data = document.data
    if not isinstance(data, dict):
        what = "empty" if data is None else f"a {type(data).__name__}, not a mapping"
        problems.append(Problem(document.path, Position(1, 1), "",
                                f"a flow must be a mapping with id, namespace and tasks; this document is {what}"))
        return None, problems
    context = {"registry": registry,
               "worker_groups": set(worker_groups) if worker_groups is not None else None}
    try:
        data = apply_plugin_defaults(data, global_defaults, registry)
        flow = Flow.model_validate(data, context=context)
    except ValidationError as err:
        problems += problems_from_errors(err.errors(), data, document, registry)
        return None, sorted(problems, key=lambda p: p.position)
    except RecursionError:  # tasks nested in tasks deeper than Python validates
        problems.append(Problem(document.path, Position(1, 1), "", "the flow is nested too deeply to validate",
                                "flatten it: move deep branches into subflows"))
        return None, sorted(problems, key=lambda p: p.position)
    return (flow if not problems else None), problems


def load_flow_text(source: str, registry: Registry, *, path: str = "<string>",
                   global_defaults: Sequence[Mapping[str, Any]] = (),
                   worker_groups: Iterable[str] | None = None) -> LoadedFlow:
    """The one flow written in ``source``.

    Raises:
        FlowValidationError: with every problem, each located in ``path``.
    """
    documents = parse_yaml(source, path)
    if len(documents) != 1:
        raise FlowValidationError([Problem(path, Position(1, 1), "",
                                           f"expected one flow, found {len(documents)} YAML documents",
                                           "put each flow in its own file")])
    flow, problems = check_document(documents[0], registry, global_defaults=global_defaults,
                                    worker_groups=worker_groups)
    if flow is None:
        raise FlowValidationError(problems)
    return LoadedFlow(flow, source, path)


def load_flow(path: str | Path, registry: Registry, *,
              global_defaults: Sequence[Mapping[str, Any]] = ()) -> LoadedFlow:
    """Reads and parses the flow file at ``path`` (raises FlowValidationError, or OSError)."""
    source = read_flow_file(path)
    return load_flow_text(source, registry, path=str(path), global_defaults=global_defaults)


def read_flow_file(path: str | Path) -> str:
    """The text of the flow file at ``path``, read no further than a flow may be long.

    Raises:
        FlowValidationError: the file is larger than ``safe_yaml.MAX_CHARS`` characters.
        OSError, UnicodeDecodeError: it cannot be read as UTF-8.
    """
    limit = safe_yaml.MAX_CHARS * 4  # bytes: UTF-8 needs at most 4 per character
    with open(path, "rb") as file:
        data = file.read(limit + 1)
    source = data.decode("utf-8") if len(data) <= limit else ""
    if len(data) > limit or len(source) > safe_yaml.MAX_CHARS:
        raise FlowValidationError([Problem(str(path), Position(1, 1), "",
                                           f"the file is larger than a flow may be ({safe_yaml.MAX_CHARS:,} "
                                           "characters); split it or keep large data in files")])
    return source


def validate_source(source: str, registry: Registry, *, path: str = "<string>",
                    global_defaults: Sequence[Mapping[str, Any]] = (),
                    worker_groups: Iterable[str] | None = None) -> tuple[list[Flow], list[Problem]]:
    """Every flow of a (possibly multi-document) source, and every problem found in it."""
    try:
        documents = parse_yaml(source, path)
    except FlowValidationError as err:
        return [], err.details
    if not documents:
        return [], [Problem(path, Position(1, 1), "", "the file is empty; a flow needs id, namespace and tasks")]
    flows: list[Flow] = []
    problems: list[Problem] = []
    for document in documents:
        flow, found = check_document(document, registry, global_defaults=global_defaults,
                                     worker_groups=worker_groups)
        problems += found
        if flow is not None:
            flows.append(flow)
    return flows, sorted(problems, key=lambda p: p.position)
