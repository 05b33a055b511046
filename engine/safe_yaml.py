"""L1 pure core: YAML written by people Podium does not trust, read within limits.

Every YAML text a flow author or a caller wrote goes through here: flow files (``engine.loader``),
YAML inputs, the ``yaml()`` expression function and the TemplatedTask spec. A few hundred bytes of
YAML can stand for gigabytes once its aliases are expanded ("billion laughs"), nest deeper than
Python can walk, or hold an integer Python refuses to convert; each of those is refused at once
with the line and column, before any value is built. The limits follow SnakeYAML's and Jackson's
(which Kestra reads YAML with) where they have one:

- a document has at most :data:`MAX_CHARS` characters (SnakeYAML's ``codePointLimit``, 3 MiB);
- at most :data:`MAX_VALUES` values (scalars, lists and mappings), aliases expanded: parsing and
  building a value costs a few microseconds in Python, so this bounds the work a document asks for
  (a 1,000-task flow holds about 7,000);
- at most :data:`MAX_ALIASES` aliases (``*name``) per document, and what they add once expanded
  counts against the same :data:`MAX_CHARS` (one character per scalar character, one per node),
  so aliases never make a document bigger than a document may be; an alias inside its own anchor
  (a recursive value) is refused;
- collections nest at most :data:`MAX_DEPTH` deep;
- a number has at most :data:`MAX_NUMBER_DIGITS` characters (Jackson's ``maxNumberLength``).

libyaml parses when it is installed (10x faster than the pure-Python parser); a text it refuses is
parsed again by the pure-Python parser, whose messages and positions are the documented ones, when
it is short enough to be parsed again quickly (:data:`MAX_REPARSE_CHARS`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import yaml
from yaml.constructor import ConstructorError
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_CHARS = 3 * 1024 * 1024
MAX_ALIASES = 100
MAX_VALUES = 100_000
MAX_DEPTH = 200
MAX_NUMBER_DIGITS = 1000
# Above this size a text libyaml refused is not parsed again in pure Python (~50 KB/s) for its
# messages: libyaml's own message and position are reported (the same words, mostly).
MAX_REPARSE_CHARS = 64 * 1024
# What a value's construction may raise on a badly tagged scalar (``!!int abc``, ``!!bool maybe``).
_CONSTRUCTION_ERRORS = (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError)
T = TypeVar("T")


class YamlLimitError(yaml.MarkedYAMLError):
    """A YAML text breaks one of this module's limits; ``problem`` says which and how to fix it."""

    def __init__(self, problem: str, mark: Mark | None = None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


def check_size(text: str, max_chars: int = MAX_CHARS) -> None:
    """Raises YamlLimitError when ``text`` is longer than ``max_chars`` characters."""
    if len(text) > max_chars:
        raise YamlLimitError(f"the YAML text has {len(text):,} characters, more than the limit of "
                             f"{max_chars:,}; split it or keep large data in files")


class LimitedComposer(yaml.composer.Composer):
    """PyYAML's composer, refusing collections nested deeper than ``MAX_DEPTH`` before it recurses
    (it builds nodes recursively, and would end in a RecursionError)."""

    peek_event: Callable[[], Any]  # the parser's, in the loaders that mix this class in

    def __init__(self) -> None:
        super().__init__()
        self.nesting = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self.nesting += 1
        try:
            if self.nesting > MAX_DEPTH:
                raise YamlLimitError(too_deep(), self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.nesting -= 1


class CountingResolver(yaml.resolver.BaseResolver):
    """Counts the values the composer resolves and stops it past ``MAX_VALUES``, so that a huge
    document is refused before it is all composed (composing costs microseconds per value even on
    libyaml). Values with an explicit tag are not resolved, hence not counted here:
    :func:`check_graph` counts every value."""

    resolved = 0

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        self.resolved += 1
        if self.resolved > MAX_VALUES:
            raise YamlLimitError(too_many_values())
        tag: str = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]  # untyped in PyYAML's stub
        return tag


class LimitedConstructor(yaml.constructor.SafeConstructor):
    """PyYAML's safe constructor with numbers of at most ``MAX_NUMBER_DIGITS`` characters, and a
    located YAML error instead of a bare ValueError or KeyError for a badly tagged scalar."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except _CONSTRUCTION_ERRORS as err:
            tag = str(node.tag).rsplit(":", 1)[-1]
            raise ConstructorError(None, None, f"cannot read this value as {tag} ({err})",
                                   node.start_mark) from None

    def construct_yaml_int(self, node: ScalarNode) -> int:
        _check_number(node)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node: ScalarNode) -> float:
        _check_number(node)
        return super().construct_yaml_float(node)


LimitedConstructor.yaml_constructors = {
    **yaml.constructor.SafeConstructor.yaml_constructors,
    "tag:yaml.org,2002:int": LimitedConstructor.construct_yaml_int,
    "tag:yaml.org,2002:float": LimitedConstructor.construct_yaml_float,
}


def _check_number(node: ScalarNode) -> None:
    if len(node.value) > MAX_NUMBER_DIGITS:
        raise YamlLimitError(f"a number of {len(node.value):,} characters is longer than the limit of "
                             f"{MAX_NUMBER_DIGITS:,}; quote it to keep it as text", node.start_mark)


def too_deep() -> str:
    return (f"the YAML is nested more than {MAX_DEPTH} levels deep; "
            "flatten it (no flow needs that many levels)")


def check_graph(root: Node, *, max_aliases: int = MAX_ALIASES, max_values: int = MAX_VALUES,
                max_expansion: int = MAX_CHARS, max_depth: int = MAX_DEPTH) -> None:
    """Raises YamlLimitError when the composed document ``root`` nests too deep, contains itself,
    uses too many aliases, or holds too many values or characters once its aliases are expanded.

    One pass over the distinct nodes (an alias is a second reference to a node already seen), so a
    bomb is measured without being expanded. Iterative: the depth is checked, not recursed into.
    """
    # Finished nodes by id: their values and characters once expanded; open ones (the containers
    # on the current path) have the same, so far.
    counts: dict[int, int] = {}
    weights: dict[int, int] = {}
    open_counts: dict[int, int] = {}
    open_weights: dict[int, int] = {}
    aliases = added = values = 0
    # (node, depth, the container holding it); depth 0 finishes a container
    stack: list[tuple[Node, int, Node | None]] = [(root, 1, None)]
    while stack:
        node, depth, parent = stack.pop()
        key = id(node)
        if not depth:
            count = counts[key] = open_counts.pop(key)
            weight = weights[key] = open_weights.pop(key)
        elif key in counts:
            count, weight = counts[key], weights[key]
            aliases += 1
            added += weight
            values += count
            if aliases > max_aliases:
                raise YamlLimitError(f"more than {max_aliases} YAML aliases (*name) in one document; "
                                     "write the values out", _where(node, parent))
            if added > max_expansion or values > max_values:
                raise YamlLimitError(f"the YAML aliases (*name) here expand the document beyond {max_values:,} "
                                     f"values or {max_expansion:,} characters (an alias bomb); write the values "
                                     "out or use fewer aliases", _where(node, parent))
        elif key in open_counts:
            raise YamlLimitError("an alias refers to the value it is part of (a recursive value); "
                                 "a value cannot contain itself", _where(node, parent))
        elif depth > max_depth:
            raise YamlLimitError(too_deep(), node.start_mark)
        else:
            values += 1
            if values > max_values:
                raise YamlLimitError(too_many_values(max_values), node.start_mark)
            if isinstance(node, ScalarNode):
                count, weight = counts[key], weights[key] = 1, len(node.value) + 1
            else:
                open_counts[key] = open_weights[key] = 1
                stack.append((node, 0, parent))
                stack.extend([(child, depth + 1, node) for child in reversed(_children(node))])
                continue
        if parent is not None:
            open_counts[id(parent)] += count
            open_weights[id(parent)] += weight


def too_many_values(max_values: int = MAX_VALUES) -> str:
    return (f"the YAML holds more than {max_values:,} values; no flow needs that many: keep large data in "
            "files (namespace files, kestra:// URIs)")


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, SequenceNode) else []


def _where(node: Node, parent: Node | None) -> Mark:
    """Where a reference to ``node`` (an alias) is written: at its key when it is a mapping's value,
    at its list otherwise (the node's own mark is its anchor's)."""
    if isinstance(parent, MappingNode):
        for key, value in parent.value:
            if value is node or key is node:
                mark: Mark = key.start_mark
                return mark
    return (parent or node).start_mark


def one_line(err: yaml.YAMLError, text: str) -> str:
    """A YAML error as one line: ``line 3, column 5: found undefined alias 'x'``."""
    if isinstance(err, yaml.reader.ReaderError):
        line, column = position_of(text, err.position)
        return f"line {line}, column {column}: {reader_problem(err)}"
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        context = f" ({err.context})" if err.context else ""
        return f"{where}{err.problem or 'invalid YAML'}{context}"
    return str(err).replace("\n", " ")


def reader_problem(err: yaml.reader.ReaderError) -> str:
    """What a ReaderError (a character YAML does not allow) means, and how to write it instead."""
    if isinstance(err.character, bytes):
        return f"the text is not valid {err.encoding} ({err.reason})"
    code = int(err.character)
    escape = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return (f"the character U+{code:04X} is not allowed in YAML; remove it, or write it as \"{escape}\" "
            "inside a double-quoted string")


def position_of(text: str, index: int) -> tuple[int, int]:
    """The 1-based line and column of character ``index`` of ``text``."""
    index = max(0, min(index, len(text)))
    return text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index)


class SafeLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, LimitedComposer,
                 LimitedConstructor, CountingResolver, yaml.resolver.Resolver):
    """``yaml.SafeLoader`` (YAML 1.1 scalars, as ``yaml.safe_load``) within this module's limits."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        LimitedComposer.__init__(self)
        LimitedConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)


FAST = bool(yaml.__with_libyaml__)
if FAST:
    from yaml._yaml import CParser  # libyaml's binding: importable only where libyaml is installed

    class _FastSafeLoader(CParser, LimitedConstructor, CountingResolver, yaml.resolver.Resolver):
        """:class:`SafeLoader` on libyaml's parser and composer (which stops at 1,000 levels)."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            LimitedConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)


def load(text: str) -> Any:
    """The value of the one YAML document ``text`` (None when empty), as ``yaml.safe_load`` reads it.

    Raises:
        yaml.YAMLError: invalid YAML, or a limit broken (:class:`YamlLimitError`); :func:`one_line`
            says it in one line.
    """
    check_size(text)
    return parse_with_fallback(_load_with, _FastSafeLoader if FAST else None, SafeLoader, text)


def parse_with_fallback(parse: Callable[[type[Any], str], T], fast: type[Any] | None, slow: type[Any],
                        text: str) -> T:
    """``parse(fast, text)``, or ``parse(slow, text)`` when libyaml refuses the text: the pure-Python
    parser's messages and positions are the documented ones. A limit already located, and any error
    in a text too long to parse again quickly, are raised as libyaml found them."""
    if fast is not None:
        try:
            return parse(fast, text)
        except YamlLimitError:
            raise
        except yaml.MarkedYAMLError as err:
            if err.problem == "exceeded maximum nesting depth":  # libyaml's own limit, 1,000 levels
                raise YamlLimitError(too_deep(), err.problem_mark) from None
            if len(text) > MAX_REPARSE_CHARS:
                raise
        except yaml.YAMLError:
            if len(text) > MAX_REPARSE_CHARS:
                raise
    return parse(slow, text)


def _load_with(loader_class: type[Any], text: str) -> Any:
    loader = None
    try:
        loader = loader_class(text)
        node = loader.get_single_node()
        if node is None:
            return None
        check_graph(node)
        return loader.construct_document(node)
    except RecursionError:
        raise YamlLimitError(too_deep()) from None
    except _CONSTRUCTION_ERRORS as err:  # from a value finished outside construct_object
        raise ConstructorError(None, None, f"cannot read this YAML ({err})", None) from None
    finally:
        if loader is not None:
            loader.dispose()
